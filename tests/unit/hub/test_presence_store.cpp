// relay/hub/presence_store: the presence store's state and diff payloads.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "relay/core/json.h"
#include "relay/hub/presence_store.h"

using rt::PresenceDiff;
using rt::PresenceEntry;
using rt::PresenceStore;
namespace json = rt::json;

namespace {

PresenceEntry entry(std::string node, uint64_t owner, std::string key, std::string ref, std::string meta = "{}") {
    PresenceEntry e;
    e.node = std::move(node);
    e.owner = owner;
    e.key = std::move(key);
    e.phx_ref = std::move(ref);
    e.meta_json = std::move(meta);
    return e;
}

std::string meta_of(const PresenceEntry& e) {
    std::string out;
    rt::append_meta_json(out, e);
    return out;
}

bool valid_json(const std::string& text) {
    json::Document d;
    return json::parse(d, text);
}

}  // namespace

TEST(PresenceMeta, EmptyObjectGivesOnlyPhxRef) {
    EXPECT_EQ(meta_of(entry("", 1, "k", "r1", "{}")), R"({"phx_ref":"r1"})");
    EXPECT_EQ(meta_of(entry("", 1, "k", "r1", " { \n } ")), R"({"phx_ref":"r1"})");
}

TEST(PresenceMeta, MembersAreSplicedAfterPhxRef) {
    EXPECT_EQ(meta_of(entry("", 1, "k", "r1", R"({"name":"Alice","age":3})")),
              R"({"phx_ref":"r1","name":"Alice","age":3})");
}

TEST(PresenceMeta, NestedObjectsAreKeptWhole) {
    std::string out = meta_of(entry("", 1, "k", "r1", R"({"a":{"b":[1,{"c":"}"}]},"d":{}})"));
    EXPECT_EQ(out, R"({"phx_ref":"r1","a":{"b":[1,{"c":"}"}]},"d":{}})");
    EXPECT_TRUE(valid_json(out));
}

TEST(PresenceMeta, PhxRefPrevWhenSet) {
    PresenceEntry e = entry("", 1, "k", "r2", R"({"x":1})");
    e.phx_ref_prev = "r1";
    EXPECT_EQ(meta_of(e), R"({"phx_ref":"r2","phx_ref_prev":"r1","x":1})");
}

TEST(PresenceMeta, AppendsToExistingText) {
    std::string out = "[";
    rt::append_meta_json(out, entry("", 1, "k", "r", R"({"a":1})"));
    EXPECT_EQ(out, R"([{"phx_ref":"r","a":1})");
}

TEST(PresenceStore, TrackNewEntryGivesJoinDiff) {
    PresenceStore s;
    PresenceDiff d = s.track("realtime:room", entry("", 1, "alice", "r1", R"({"name":"Alice"})"));
    EXPECT_EQ(d.topic, "realtime:room");
    EXPECT_EQ(d.json, R"({"joins":{"alice":{"metas":[{"phx_ref":"r1","name":"Alice"}]}},"leaves":{}})");
    EXPECT_EQ(s.entries(), 1u);
    EXPECT_EQ(s.state_json("realtime:room"), R"({"alice":{"metas":[{"phx_ref":"r1","name":"Alice"}]}})");
}

TEST(PresenceStore, TrackAgainIsAnUpdateWithPhxRefPrev) {
    PresenceStore s;
    s.track("t", entry("", 1, "alice", "r1", R"({"v":1})"));
    PresenceDiff d = s.track("t", entry("", 1, "alice", "r2", R"({"v":2})"));
    EXPECT_EQ(d.json, R"({"joins":{"alice":{"metas":[{"phx_ref":"r2","phx_ref_prev":"r1","v":2}]}},)"
                      R"("leaves":{"alice":{"metas":[{"phx_ref":"r1","v":1}]}}})");
    EXPECT_EQ(s.entries(), 1u);
    EXPECT_EQ(s.state_json("t"), R"({"alice":{"metas":[{"phx_ref":"r2","phx_ref_prev":"r1","v":2}]}})");
    const PresenceEntry* e = s.find("t", "", 1);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->phx_ref, "r2");
}

TEST(PresenceStore, UpdateKeepsAGivenPhxRefPrev) {
    PresenceStore s;
    s.track("t", entry("", 1, "k", "r1"));
    PresenceEntry e = entry("", 1, "k", "r2");
    e.phx_ref_prev = "given";
    s.track("t", e);
    EXPECT_EQ(s.find("t", "", 1)->phx_ref_prev, "given");
}

TEST(PresenceStore, UntrackGivesLeaveDiff) {
    PresenceStore s;
    s.track("t", entry("", 1, "alice", "r1", R"({"a":1})"));
    PresenceDiff d;
    ASSERT_TRUE(s.untrack("t", "", 1, d));
    EXPECT_EQ(d.topic, "t");
    EXPECT_EQ(d.json, R"({"joins":{},"leaves":{"alice":{"metas":[{"phx_ref":"r1","a":1}]}}})");
    EXPECT_EQ(s.entries(), 0u);
    EXPECT_EQ(s.state_json("t"), "{}");
    EXPECT_EQ(s.find("t", "", 1), nullptr);
}

TEST(PresenceStore, UntrackOfNothingIsFalse) {
    PresenceStore s;
    PresenceDiff d;
    EXPECT_FALSE(s.untrack("t", "", 1, d));
    s.track("t", entry("", 1, "k", "r1"));
    EXPECT_FALSE(s.untrack("t", "", 2, d));
    EXPECT_FALSE(s.untrack("t", "other-node", 1, d));
    EXPECT_FALSE(s.untrack("u", "", 1, d));
    EXPECT_TRUE(d.json.empty());
    EXPECT_EQ(s.entries(), 1u);
}

TEST(PresenceStore, SameOwnerOnDifferentNodesAreDistinct) {
    PresenceStore s;
    s.track("t", entry("", 7, "k", "local"));
    s.track("t", entry("node-b", 7, "k", "remote"));
    EXPECT_EQ(s.entries(), 2u);
    EXPECT_EQ(s.find("t", "", 7)->phx_ref, "local");
    EXPECT_EQ(s.find("t", "node-b", 7)->phx_ref, "remote");
}

TEST(PresenceStore, StateGroupsMetasByKeyInFirstSeenOrder) {
    PresenceStore s;
    s.track("t", entry("", 1, "alice", "r1", R"({"tab":1})"));
    s.track("t", entry("", 2, "bob", "r2"));
    s.track("t", entry("node-b", 3, "alice", "r3", R"({"tab":2})"));
    s.track("other", entry("", 4, "carol", "r4"));
    EXPECT_EQ(s.state_json("t"),
              R"({"alice":{"metas":[{"phx_ref":"r1","tab":1},{"phx_ref":"r3","tab":2}]},"bob":{"metas":[{"phx_ref":"r2"}]}})");
    EXPECT_EQ(s.state_json("other"), R"({"carol":{"metas":[{"phx_ref":"r4"}]}})");
    EXPECT_EQ(s.state_json("none"), "{}");
}

TEST(PresenceStore, KeysAreJsonEscaped) {
    PresenceStore s;
    s.track("t", entry("", 1, "a\"b", "r1"));
    EXPECT_EQ(s.state_json("t"), R"({"a\"b":{"metas":[{"phx_ref":"r1"}]}})");
    EXPECT_TRUE(valid_json(s.state_json("t")));
}

TEST(PresenceStore, RemoveNodeLeavesOnlyItsEntries) {
    PresenceStore s;
    s.track("t1", entry("", 1, "local", "r1"));
    s.track("t1", entry("b", 2, "bob", "r2"));
    s.track("t1", entry("b", 3, "bob", "r3"));
    s.track("t2", entry("b", 4, "ben", "r4"));
    s.track("t3", entry("c", 5, "cat", "r5"));
    auto diffs = s.remove_node("b");
    ASSERT_EQ(diffs.size(), 2u);
    std::map<std::string, std::string> by_topic;
    for (auto& d : diffs) by_topic[d.topic] = d.json;
    EXPECT_EQ(by_topic["t1"], R"({"joins":{},"leaves":{"bob":{"metas":[{"phx_ref":"r2"},{"phx_ref":"r3"}]}}})");
    EXPECT_EQ(by_topic["t2"], R"({"joins":{},"leaves":{"ben":{"metas":[{"phx_ref":"r4"}]}}})");
    EXPECT_EQ(s.entries(), 2u);
    EXPECT_EQ(s.state_json("t1"), R"({"local":{"metas":[{"phx_ref":"r1"}]}})");
    EXPECT_EQ(s.state_json("t2"), "{}");
    EXPECT_NE(s.find("t3", "c", 5), nullptr);
    EXPECT_TRUE(s.remove_node("b").empty());
    EXPECT_TRUE(s.remove_node("nobody").empty());
}

TEST(PresenceStore, ReplaceNodeFirstSnapshotJoinsEverything) {
    PresenceStore s;
    s.track("t", entry("", 1, "local", "r0"));
    auto diffs = s.replace_node("b", {{"t", entry("ignored", 2, "bob", "r2")}, {"u", entry("", 3, "ben", "r3")}});
    ASSERT_EQ(diffs.size(), 2u);
    std::map<std::string, std::string> by_topic;
    for (auto& d : diffs) by_topic[d.topic] = d.json;
    EXPECT_EQ(by_topic["t"], R"({"joins":{"bob":{"metas":[{"phx_ref":"r2"}]}},"leaves":{}})");
    EXPECT_EQ(by_topic["u"], R"({"joins":{"ben":{"metas":[{"phx_ref":"r3"}]}},"leaves":{}})");
    EXPECT_EQ(s.entries(), 3u);
    // Entries take the node they were replaced for.
    EXPECT_NE(s.find("t", "b", 2), nullptr);
    EXPECT_EQ(s.find("t", "ignored", 2), nullptr);
}

TEST(PresenceStore, ReplaceNodeWithTheSameStateGivesNoDiff) {
    PresenceStore s;
    std::vector<std::pair<std::string, PresenceEntry>> state = {{"t", entry("b", 2, "bob", "r2", R"({"x":1})")},
                                                                {"t", entry("b", 3, "bob", "r3")}};
    s.replace_node("b", state);
    EXPECT_TRUE(s.replace_node("b", state).empty());
    EXPECT_EQ(s.entries(), 2u);
}

TEST(PresenceStore, ReplaceNodeDiffsOnlyRealChanges) {
    PresenceStore s;
    s.replace_node("b", {{"t", entry("b", 1, "a", "r1")}, {"t", entry("b", 2, "b", "r2")}, {"u", entry("b", 3, "c", "r3")}});
    // Owner 1 unchanged, owner 2 updated (new phx_ref), owner 3 gone (and topic u with it), owner 4 new.
    auto diffs = s.replace_node("b", {{"t", entry("b", 1, "a", "r1")}, {"t", entry("b", 2, "b", "r2b")},
                                      {"t", entry("b", 4, "d", "r4")}});
    std::map<std::string, std::string> by_topic;
    for (auto& d : diffs) by_topic[d.topic] = d.json;
    ASSERT_EQ(diffs.size(), 2u);
    EXPECT_EQ(by_topic["t"], R"({"joins":{"b":{"metas":[{"phx_ref":"r2b"}]},"d":{"metas":[{"phx_ref":"r4"}]}},)"
                             R"("leaves":{"b":{"metas":[{"phx_ref":"r2"}]}}})");
    EXPECT_EQ(by_topic["u"], R"({"joins":{},"leaves":{"c":{"metas":[{"phx_ref":"r3"}]}}})");
    EXPECT_EQ(s.entries(), 3u);
    EXPECT_EQ(s.state_json("u"), "{}");
}

TEST(PresenceStore, ReplaceNodeWithNothingLeavesEverythingOfThatNode) {
    PresenceStore s;
    s.track("t", entry("", 9, "me", "r9"));
    s.replace_node("b", {{"t", entry("b", 1, "a", "r1")}});
    auto diffs = s.replace_node("b", {});
    ASSERT_EQ(diffs.size(), 1u);
    EXPECT_EQ(diffs[0].json, R"({"joins":{},"leaves":{"a":{"metas":[{"phx_ref":"r1"}]}}})");
    EXPECT_EQ(s.entries(), 1u);
    EXPECT_EQ(s.state_json("t"), R"({"me":{"metas":[{"phx_ref":"r9"}]}})");
}

TEST(PresenceStore, ForEachOfNodeVisitsOnlyThatNode) {
    PresenceStore s;
    s.track("t", entry("", 1, "a", "r1"));
    s.track("u", entry("", 2, "b", "r2"));
    s.track("t", entry("x", 3, "c", "r3"));
    std::map<uint64_t, std::string> seen;
    s.for_each_of_node("", [&](const std::string& topic, const PresenceEntry& e) { seen[e.owner] = topic; });
    EXPECT_EQ(seen, (std::map<uint64_t, std::string>{{1, "t"}, {2, "u"}}));
}

TEST(PresenceStore, DiffsAreValidJson) {
    PresenceStore s;
    PresenceDiff a = s.track("t", entry("", 1, "k\\", "r1", R"({"n":{"deep":[1,2]}})"));
    PresenceDiff b = s.track("t", entry("", 1, "k\\", "r2", R"({"n":null})"));
    EXPECT_TRUE(valid_json(a.json)) << a.json;
    EXPECT_TRUE(valid_json(b.json)) << b.json;
    EXPECT_TRUE(valid_json(s.state_json("t")));
}
