// relay/protocol/payloads: the JSON payloads clients receive, byte for byte.
#include <gtest/gtest.h>

#include <cstdint>

#include "relay/protocol/payloads.h"

using namespace rt;

TEST(Payloads, ReasonAndReply) {
    EXPECT_EQ(payloads::reason("bad \"topic\""), R"({"reason":"bad \"topic\""})");
    EXPECT_EQ(payloads::reply("ok", "{}"), R"({"status":"ok","response":{}})");
    EXPECT_EQ(payloads::reply("error", payloads::reason("x")), R"({"status":"error","response":{"reason":"x"}})");
}

TEST(Payloads, SystemMessageNamesTheChannel) {
    EXPECT_EQ(payloads::system("postgres_changes", "ok", "Subscribed to PostgreSQL", "room"),
              R"({"extension":"postgres_changes","status":"ok","message":"Subscribed to PostgreSQL","channel":"room"})");
}

TEST(Payloads, BroadcastWithAndWithoutMeta) {
    BroadcastMsg m;
    m.event = "ev";
    m.payload = R"({"a":1})";
    EXPECT_EQ(payloads::broadcast(m), R"({"type":"broadcast","event":"ev","payload":{"a":1}})");
    m.meta_json = R"({"id":"u"})";
    EXPECT_EQ(payloads::broadcast(m), R"({"type":"broadcast","event":"ev","payload":{"a":1},"meta":{"id":"u"}})");
}

TEST(PostgresChangesPayload, Exact) {
    EXPECT_EQ(payloads::postgres_changes({3, 9}, R"({"schema":"public"})"), R"({"ids":[3,9],"data":{"schema":"public"}})");
    EXPECT_EQ(payloads::postgres_changes({}, "{}"), R"({"ids":[],"data":{}})");
    EXPECT_EQ(payloads::postgres_changes({INT64_MAX}, "{}"), R"({"ids":[9223372036854775807],"data":{}})");
}

TEST(PostgresChangesPayload, WithOtherIdsKeepsTheDataAsItIs) {
    std::string full = payloads::postgres_changes({3, 9, 12}, R"({"record":{"tags":[1,2]},"errors":null})");
    EXPECT_EQ(payloads::postgres_changes_with_ids(full, {9}), R"({"ids":[9],"data":{"record":{"tags":[1,2]},"errors":null}})");
    EXPECT_EQ(payloads::postgres_changes_with_ids(full, {3, 12}),
              R"({"ids":[3,12],"data":{"record":{"tags":[1,2]},"errors":null}})");
}
