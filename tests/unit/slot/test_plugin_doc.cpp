// relay/slot/plugin_doc: plugin documents (design 3.3 plus change_index, and row level
// security's views, checks and failed), LSN text, and the postgres_changes payload built
// from a parsed document (slot/change_data).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "relay/protocol/payloads.h"
#include "relay/slot/change_data.h"
#include "relay/slot/plugin_doc.h"
#include "relay/core/json.h"

using rt::PluginDoc;
namespace json = rt::json;

namespace {

PluginDoc parse_ok(std::string_view text) {
    PluginDoc doc;
    std::string error;
    EXPECT_TRUE(rt::parse_plugin_doc(text, doc, error)) << error << " in " << text;
    return doc;
}

std::string data_of(const PluginDoc& doc) { return rt::change_data(doc, nullptr); }

std::set<std::string> keys_of(const std::string& text) {
    json::Document d;
    EXPECT_TRUE(json::parse(d, text)) << text;
    std::set<std::string> keys;
    if (d.IsObject())
        for (auto& m : d.GetObject()) keys.insert(m.name.GetString());
    return keys;
}

const char* kUpdate =
    R"({"type":"UPDATE","schema":"public","table":"todos",)"
    R"("commit_timestamp":"2026-11-27T21:03:29.683Z","commit_lsn":"0/16B37A0","lsn":"0/16B3748","change_index":3,)"
    R"("columns":[{"name":"id","type":"int8"},{"name":"price","type":"numeric"},{"name":"title","type":"text"}],)"
    R"("record":{"id":46,"price":1.00,"big":12345678901234567890.123,"title":"buy \"milk\""},"old_record":{"id":46},)"
    R"("targets":{"node-a":[3,9],"node-b":[7]},"errors":null})";

}  // namespace

TEST(ChangeDoc, UpdateDataHasExactlyTheClientFields) {
    PluginDoc doc = parse_ok(kUpdate);
    EXPECT_EQ(doc.type, PluginDoc::Type::Row);
    EXPECT_EQ(data_of(doc),
              R"({"schema":"public","table":"todos","commit_timestamp":"2026-11-27T21:03:29.683Z","type":"UPDATE",)"
              R"("columns":[{"name":"id","type":"int8"},{"name":"price","type":"numeric"},{"name":"title","type":"text"}],)"
              R"("record":{"id":46,"price":1.00,"big":12345678901234567890.123,"title":"buy \"milk\""},)"
              R"("old_record":{"id":46},"errors":null})");
    EXPECT_EQ(keys_of(data_of(doc)), (std::set<std::string>{"schema", "table", "commit_timestamp", "type", "columns",
                                                             "record", "old_record", "errors"}));
}

TEST(ChangeDoc, PositionAndTargetsAreRead) {
    PluginDoc doc = parse_ok(kUpdate);
    EXPECT_EQ(doc.pos.commit_lsn, 0x16B37A0u);
    EXPECT_EQ(doc.pos.change_index, 3u);
    ASSERT_EQ(doc.targets.size(), 2u);
    EXPECT_EQ(doc.targets[0].first, "node-a");
    EXPECT_EQ(doc.targets[0].second, (std::vector<int64_t>{3, 9}));
    EXPECT_EQ(doc.targets[1].first, "node-b");
    EXPECT_EQ(doc.targets[1].second, (std::vector<int64_t>{7}));
}

TEST(ChangeDoc, InsertHasNoOldRecordAndErrorsDefaultToNull) {
    PluginDoc doc = parse_ok(
        R"({"type":"INSERT","schema":"public","table":"t","commit_timestamp":"2026-01-01T00:00:00.000Z",)"
        R"("commit_lsn":"1/0","lsn":"0/FFFFFFF0","change_index":0,"columns":[{"name":"id","type":"int8"}],)"
        R"("record":{"id":9007199254740993},"targets":{"n":[1]}})");
    EXPECT_EQ(data_of(doc),
              R"({"schema":"public","table":"t","commit_timestamp":"2026-01-01T00:00:00.000Z","type":"INSERT",)"
              R"("columns":[{"name":"id","type":"int8"}],"record":{"id":9007199254740993},"errors":null})");
    EXPECT_EQ(doc.pos.commit_lsn, 0x100000000u);
    EXPECT_EQ(doc.pos.change_index, 0u);
}

TEST(ChangeDoc, DeleteHasNoRecordAndKeepsErrors) {
    PluginDoc doc = parse_ok(
        R"({"type":"DELETE","schema":"s","table":"t","commit_timestamp":"x","commit_lsn":"0/10","change_index":12,)"
        R"("columns":[],"old_record":{"id":1},"targets":{"n":[2]},"errors":["Error 413: Payload Too Large"]})");
    EXPECT_EQ(data_of(doc),
              R"({"schema":"s","table":"t","commit_timestamp":"x","type":"DELETE","columns":[],)"
              R"("old_record":{"id":1},"errors":["Error 413: Payload Too Large"]})");
    EXPECT_EQ(keys_of(data_of(doc)).count("record"), 0u);
    EXPECT_EQ(doc.pos.change_index, 12u);
}

TEST(ChangeDoc, WhitespaceInTheDocumentStillGivesValidData) {
    PluginDoc doc = parse_ok(
        "{ \"type\" : \"INSERT\" , \"schema\" : \"public\" , \"table\" : \"t\" , \"commit_lsn\" : \"0/20\" ,"
        " \"change_index\" : 5 , \"record\" : { \"a\" : 1.10 } , \"targets\" : { \"n\" : [ 4 ] } }");
    json::Document d;
    ASSERT_TRUE(json::parse(d, data_of(doc))) << data_of(doc);
    EXPECT_NE(data_of(doc).find("1.10"), std::string::npos);
    EXPECT_EQ(doc.pos.change_index, 5u);
    EXPECT_EQ(doc.pos.commit_lsn, 0x20u);
    ASSERT_EQ(doc.targets.size(), 1u);
    EXPECT_EQ(doc.targets[0].second, (std::vector<int64_t>{4}));
}

TEST(ChangeDoc, Broadcast) {
    PluginDoc doc = parse_ok(
        R"({"type":"BROADCAST","topic":"room1","event":"shout","payload":{"x":1.50,"s":"é"},"private":false,)"
        R"("id":"5b0c3f2e-8a51-4a8e-9d63-0b2f5c8d9e10","commit_timestamp":"2026-01-01T00:00:00Z",)"
        R"("commit_lsn":"0/16B37A0","change_index":4})");
    EXPECT_EQ(doc.type, PluginDoc::Type::Broadcast);
    EXPECT_EQ(doc.broadcast.topic, "realtime:room1");
    EXPECT_EQ(doc.broadcast.event, "shout");
    EXPECT_EQ(doc.broadcast.payload, R"({"x":1.50,"s":"é"})");
    EXPECT_TRUE(doc.broadcast.json_payload);
    EXPECT_FALSE(doc.broadcast.is_private);
    EXPECT_EQ(doc.broadcast.meta_json, R"({"id":"5b0c3f2e-8a51-4a8e-9d63-0b2f5c8d9e10"})");
    EXPECT_EQ(doc.broadcast.pos.commit_lsn, 0x16B37A0u);
    EXPECT_EQ(doc.broadcast.pos.change_index, 4u);
    EXPECT_TRUE(doc.targets.empty());
}

TEST(ChangeDoc, BroadcastPrivateAndPrefixedTopic) {
    PluginDoc doc = parse_ok(
        R"({"type":"BROADCAST","topic":"realtime:room2","event":"e","payload":{},"private":true,"commit_lsn":"0/1"})");
    EXPECT_EQ(doc.broadcast.topic, "realtime:room2");
    EXPECT_TRUE(doc.broadcast.is_private);
    EXPECT_TRUE(doc.broadcast.meta_json.empty());
}

TEST(ChangeDoc, BroadcastBinaryPayloadAndId) {
    PluginDoc doc = parse_ok(
        R"({"type":"BROADCAST","topic":"room1","event":"bin","binary_payload":"3q2+7wD/AQI=","private":true,)"
        R"("id":"5b0c3f2e-8a51-4a8e-9d63-0b2f5c8d9e10","commit_lsn":"0/1","change_index":0})");
    EXPECT_FALSE(doc.broadcast.json_payload);
    EXPECT_EQ(doc.broadcast.payload, std::string("\xde\xad\xbe\xef\x00\xff\x01\x02", 8));
    EXPECT_EQ(doc.broadcast.id, "5b0c3f2e-8a51-4a8e-9d63-0b2f5c8d9e10");
    EXPECT_EQ(doc.broadcast.meta_json, R"({"id":"5b0c3f2e-8a51-4a8e-9d63-0b2f5c8d9e10"})");
    EXPECT_TRUE(doc.broadcast.is_private);
    PluginDoc bad;
    std::string error;
    EXPECT_FALSE(parse_plugin_doc(R"({"type":"BROADCAST","topic":"r","event":"e","binary_payload":"@@","commit_lsn":"0/1"})",
                                  bad, error));
    EXPECT_NE(error.find("base64"), std::string::npos);
}

TEST(ChangeDoc, BroadcastEscapedEventIsDecoded) {
    PluginDoc doc = parse_ok(R"({"type":"BROADCAST","topic":"r","event":"a\"b\u00e9","payload":{},"commit_lsn":"0/1"})");
    EXPECT_EQ(doc.broadcast.event, "a\"bé");
}

TEST(ChangeDoc, Subscribed) {
    PluginDoc doc = parse_ok(R"({"type":"SUBSCRIBED","commit_lsn":"0/16B37A0","change_index":2,"targets":{"n1":[5,6],"n2":[8]}})");
    EXPECT_EQ(doc.type, PluginDoc::Type::Subscribed);
    EXPECT_EQ(doc.pos.commit_lsn, 0x16B37A0u);
    EXPECT_EQ(doc.pos.change_index, 2u);
    ASSERT_EQ(doc.targets.size(), 2u);
    EXPECT_EQ(doc.targets[0].first, "n1");
    EXPECT_EQ(doc.targets[0].second, (std::vector<int64_t>{5, 6}));
    EXPECT_EQ(doc.targets[1].second, (std::vector<int64_t>{8}));
}

TEST(ChangeDoc, EmptyTargets) {
    PluginDoc doc = parse_ok(R"({"type":"INSERT","schema":"p","table":"t","commit_lsn":"0/1","record":{},"targets":{}})");
    EXPECT_TRUE(doc.targets.empty());
}

TEST(ChangeDoc, LargeIdsInTargets) {
    PluginDoc doc = parse_ok(
        R"({"type":"INSERT","schema":"p","table":"t","commit_lsn":"0/1","record":{},"targets":{"n":[9223372036854775807,1]}})");
    ASSERT_EQ(doc.targets.size(), 1u);
    EXPECT_EQ(doc.targets[0].second, (std::vector<int64_t>{INT64_MAX, 1}));
}

TEST(ChangeDoc, RefusedDocuments) {
    for (const char* bad : {"", "[]", "not json", R"({"type":"TRUNCATE","schema":"p","table":"t"})",
                            R"({"schema":"p","table":"t"})",
                            R"({"type":"INSERT","schema":"p","table":"t","targets":[1,2]})",
                            R"({"type":"INSERT","schema":"p","table":"t","targets":{"n":5}})",
                            R"({"type":"INSERT","schema":"p","table":"t","targets":{"n":[1})",
                            // found by fuzz_plugin_doc: records that are not JSON objects
                            R"({"type":"INSERT","schema":"p","table":"t","record":{"id":[1},"x":2]})",
                            R"({"type":"INSERT","schema":"p","table":"t","record":i{"d":46},"errors":null})"}) {
        PluginDoc doc;
        std::string error;
        EXPECT_FALSE(rt::parse_plugin_doc(bad, doc, error)) << "accepted: " << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
}

// What change_data sends on as written must be of the kind clients expect (found by
// fuzz_plugin_doc): the document is refused, not delivered malformed.
TEST(ChangeDoc, RowMembersOfTheWrongKindAreRefused) {
    const std::string head = R"({"type":"INSERT","schema":"p","table":"t","targets":{"n":[1]})";
    for (const char* member : {R"("record":7)", R"("record":[1])", R"("old_record":"x")", R"("columns":{})",
                               R"("errors":nul)", R"("errors":"e")", R"("commit_timestamp":5)"}) {
        std::string bad = head + "," + member + "}";
        PluginDoc doc;
        std::string error;
        EXPECT_FALSE(rt::parse_plugin_doc(bad, doc, error)) << "accepted: " << bad;
        EXPECT_FALSE(error.empty());
    }
    for (const char* member : {R"("errors":null)", R"("errors":["Error 413: Payload Too Large"])",
                               R"("record":{},"old_record":{"id":1},"columns":[])"})
        parse_ok(head + "," + member + "}");
}

TEST(ChangeDoc, ViewsChecksAndFailedAreRead) {
    PluginDoc doc = parse_ok(
        R"({"type":"INSERT","schema":"public","table":"to\"dos","commit_lsn":"0/1","columns":[],"record":{"id":1},)"
        R"("targets":{"node-a":[3]},)"
        R"("views":[{"columns":["id","title"],"targets":{"node-a":[12]}},{"check":0,"targets":{"node-a":[15,16]}},)"
        R"({"check":1,"columns":["id"],"targets":{"node-b":[17]}}],)"
        R"J("checks":[{"role":"authenticated","per_user":false,"quals":["EXISTS (SELECT 1)"]},)J"
        R"({"role":"anon","per_user":true,"quals":["a","b \"q\""]}],)"
        R"J("check_row":"(1,\"buy milk\")","failed":{"node-c":[{"id":9,"message":"permission denied"}]},"errors":null})J");
    EXPECT_EQ(doc.schema, "public");
    EXPECT_EQ(doc.table, "to\"dos");
    ASSERT_EQ(doc.views.size(), 3u);
    EXPECT_FALSE(doc.views[0].all_columns);
    EXPECT_EQ(doc.views[0].columns, (std::vector<std::string>{"id", "title"}));
    EXPECT_EQ(doc.views[0].check, -1);
    EXPECT_TRUE(doc.views[1].all_columns);
    EXPECT_EQ(doc.views[1].check, 0);
    ASSERT_EQ(doc.views[1].targets.size(), 1u);
    EXPECT_EQ(doc.views[1].targets[0].second, (std::vector<int64_t>{15, 16}));
    EXPECT_EQ(doc.views[2].check, 1);
    EXPECT_EQ(doc.views[2].targets[0].first, "node-b");
    ASSERT_EQ(doc.checks.size(), 2u);
    EXPECT_EQ(doc.checks[0].role, "authenticated");
    EXPECT_FALSE(doc.checks[0].per_user);
    EXPECT_EQ(doc.checks[0].quals, (std::vector<std::string>{"EXISTS (SELECT 1)"}));
    EXPECT_TRUE(doc.checks[1].per_user);
    EXPECT_EQ(doc.checks[1].quals[1], "b \"q\"");
    EXPECT_EQ(doc.check_row, "(1,\"buy milk\")");
    ASSERT_EQ(doc.failed.size(), 1u);
    EXPECT_EQ(doc.failed[0].first, "node-c");
    ASSERT_EQ(doc.failed[0].second.size(), 1u);
    EXPECT_EQ(doc.failed[0].second[0].id, 9);
    EXPECT_EQ(doc.failed[0].second[0].message, "permission denied");
}

TEST(ChangeDoc, AViewWithAnUnknownCheckOrNoRowIsRefused) {
    for (const char* bad :
         {R"({"type":"INSERT","schema":"p","table":"t","commit_lsn":"0/1","record":{},"views":[{"check":0,"targets":{"n":[1]}}]})",
          R"({"type":"INSERT","schema":"p","table":"t","commit_lsn":"0/1","record":{},"views":[{"check":0,"targets":{"n":[1]}}],"checks":[{"role":"r","quals":["true"]}]})",
          R"({"type":"INSERT","schema":"p","table":"t","commit_lsn":"0/1","record":{},"views":[{"targets":[1]}]})",
          R"({"type":"INSERT","schema":"p","table":"t","commit_lsn":"0/1","record":{},"failed":{"n":[{"message":"x"}]}})"}) {
        PluginDoc doc;
        std::string error;
        EXPECT_FALSE(rt::parse_plugin_doc(bad, doc, error)) << "accepted: " << bad;
    }
}

// -- Column views (slot/change_data) -------------------------------------------------

TEST(ChangeData, AViewKeepsOnlyItsColumnsInColumnsRecordAndOldRecord) {
    PluginDoc doc = parse_ok(kUpdate);
    std::vector<std::string> view{"id", "title"};
    EXPECT_EQ(rt::change_data(doc, &view),
              R"({"schema":"public","table":"todos","commit_timestamp":"2026-11-27T21:03:29.683Z","type":"UPDATE",)"
              R"("columns":[{"name":"id","type":"int8"},{"name":"title","type":"text"}],)"
              R"("record":{"id":46,"title":"buy \"milk\""},"old_record":{"id":46},"errors":null})");
    std::vector<std::string> none;
    EXPECT_EQ(rt::change_data(doc, &none),
              R"({"schema":"public","table":"todos","commit_timestamp":"2026-11-27T21:03:29.683Z","type":"UPDATE",)"
              R"("columns":[],"record":{},"old_record":{},"errors":null})");
}

TEST(ChangeData, EscapedColumnNamesAreMatchedByTheirText) {
    PluginDoc doc = parse_ok(
        R"({"type":"INSERT","schema":"p","table":"t","commit_lsn":"0/1","columns":[{"name":"a\"b","type":"text"},)"
        R"({"name":"c","type":"int4"}],"record":{"a\"b":"x","c":1.50}})");
    std::vector<std::string> view{"a\"b"};
    EXPECT_EQ(rt::change_data(doc, &view),
              R"({"schema":"p","table":"t","type":"INSERT","columns":[{"name":"a\"b","type":"text"}],)"
              R"("record":{"a\"b":"x"},"errors":null})");
    std::vector<std::string> numbers{"c"};
    EXPECT_NE(rt::change_data(doc, &numbers).find(R"("record":{"c":1.50})"), std::string::npos)
        << "values are copied as written";
}

// -- LSNs ------------------------------------------------------------------------------

TEST(Lsn, ParsesPostgresText) {
    EXPECT_EQ(rt::parse_lsn("16/B374D848"), 0x16B374D848u);
    EXPECT_EQ(rt::parse_lsn("0/16B37A0"), 0x16B37A0u);
    EXPECT_EQ(rt::parse_lsn("0/0"), 0u);
    EXPECT_EQ(rt::parse_lsn("FFFFFFFF/FFFFFFFF"), UINT64_MAX);
    EXPECT_EQ(rt::parse_lsn("abc/def"), 0xabc00000defu);
}

TEST(Lsn, MalformedIsZero) {
    EXPECT_EQ(rt::parse_lsn(""), 0u);
    EXPECT_EQ(rt::parse_lsn("garbage"), 0u);
    EXPECT_EQ(rt::parse_lsn("16"), 0u);
    EXPECT_EQ(rt::parse_lsn("16/"), 0u);
}

TEST(Lsn, FormatsLikePostgres) {
    EXPECT_EQ(rt::format_lsn(0x16B374D848u), "16/B374D848");
    EXPECT_EQ(rt::format_lsn(0), "0/0");
    EXPECT_EQ(rt::format_lsn(0x100000000u), "1/0");
}

TEST(Lsn, RoundTrips) {
    for (uint64_t lsn : {uint64_t{0}, uint64_t{1}, uint64_t{0xFFFFFFFF}, uint64_t{0x100000000}, uint64_t{0x16B374D848},
                         uint64_t{0xDEADBEEF00C0FFEE}, UINT64_MAX}) {
        EXPECT_EQ(rt::parse_lsn(rt::format_lsn(lsn)), lsn) << rt::format_lsn(lsn);
    }
    for (const char* text : {"0/16B37A0", "16/B374D848", "1/0", "FFFFFFFF/FFFFFFFF"})
        EXPECT_EQ(rt::format_lsn(rt::parse_lsn(text)), text);
}

TEST(ChangePos, OrdersByLsnThenIndex) {
    rt::ChangePos a{10, 2}, b{10, 3}, c{11, 0};
    EXPECT_TRUE(a <= b);
    EXPECT_FALSE(b <= a);
    EXPECT_TRUE(b <= c);
    EXPECT_FALSE(c <= b);
    EXPECT_TRUE(a <= a);
    EXPECT_FALSE(rt::ChangePos{}.valid());
    EXPECT_TRUE(a.valid());
}

// -- postgres_changes payload ----------------------------------------------------------

TEST(PostgresChangesPayload, FromAParsedDocumentIsValidJson) {
    PluginDoc doc = parse_ok(kUpdate);
    std::string payload = rt::payloads::postgres_changes(doc.targets[0].second, data_of(doc));
    json::Document d;
    ASSERT_TRUE(json::parse(d, payload)) << payload;
    EXPECT_EQ(json::stringify(*json::member(d, "ids")), "[3,9]");
    EXPECT_EQ(json::string_or(json::member(*json::member(d, "data"), "type"), ""), "UPDATE");
    // Exact numbers survive into what clients get.
    EXPECT_NE(payload.find("\"price\":1.00"), std::string::npos);
    EXPECT_NE(payload.find("12345678901234567890.123"), std::string::npos);
}
