// relay/hub/join: the join flow, from the checks and the authorization to the reply, with the
// database step (postgres_changes bindings) and the answers it waits for.
#include "hub_fixture.h"
#include "relay/protocol/errors.h"

using namespace rt;
using namespace rt::testing;

using JoinTest = HubTest;

TEST_F(JoinTest, JoinReplyV1) {
    Connection* c = connect(Vsn::V1);
    send(c, R"({"topic":"realtime:room1","event":"phx_join","payload":{"config":{"broadcast":{"ack":false,"self":false},)"
            R"("presence":{"enabled":false,"key":""},"postgres_changes":[],"private":false}},"ref":"1","join_ref":"1"})");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw,
              R"({"topic":"realtime:room1","event":"phx_reply","payload":{"status":"ok","response":{"postgres_changes":[]}},"ref":"1"})");
    EXPECT_TRUE(hub->has_channel("realtime:room1"));
    ASSERT_EQ(cluster.interest.size(), 1u);
    EXPECT_EQ(cluster.interest[0], (std::pair<std::string, bool>{"realtime:room1", true}));
}

TEST_F(JoinTest, JoinReplyV2) {
    Connection* c = connect(Vsn::V2);
    send(c, R"(["3","4","realtime:room1","phx_join",{"config":{"broadcast":{"ack":false,"self":false},)"
            R"("presence":{"enabled":false,"key":""},"postgres_changes":[],"private":false}}])");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, R"(["3","4","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}])");
}

TEST_F(JoinTest, JoinWithoutConfigIsAccepted) {
    Connection* c = connect(Vsn::V2);
    send(c, R"(["1","1","realtime:room1","phx_join",{}])");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload, R"({"status":"ok","response":{"postgres_changes":[]}})");
}

TEST_F(JoinTest, JoinOfOtherPrefixIsUnmatchedTopic) {
    Connection* c = connect(Vsn::V2);
    auto out = join(c, "room1");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, R"(["1","1","room1","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}])");
    EXPECT_EQ(hub->channel_count(), 0u);
}

TEST_F(JoinTest, BareRealtimeTopicNeedsAName) {
    Connection* c = connect(Vsn::V2);
    auto out = join(c, "realtime:");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload,
              R"({"status":"error","response":{"reason":"TopicNameRequired: You must provide a topic name"}})");
}

// Without a database (no --db) there are no policies to ask: private joins are refused
// (hub/test_access.cpp has the authorized ones).
TEST_F(JoinTest, PrivateJoinWithoutDatabaseIsRefused) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.is_private = "true";
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload,
              R"({"status":"error","response":{"reason":"UnableToConnectToProject: Realtime was unable to connect to the project database"}})");
    EXPECT_EQ(hub->channel_count(), 0u);
    // Not joined: a broadcast there is refused.
    broadcast(c, "realtime:room1", "e", "{}");
    auto after = take(*c);
    ASSERT_EQ(after.size(), 1u);
    EXPECT_NE(after[0].payload.find("unmatched topic"), std::string::npos);
}

TEST_F(JoinTest, PrivateAsStringTrueIsPrivateToo) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.is_private = "\"true\"";
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].payload.find("UnableToConnectToProject"), std::string::npos);
}

TEST_F(JoinTest, TooManyChannels) {
    cfg.limits.max_channels_per_client = 2;
    make_hub();
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:a");
    joined(c, "realtime:b");
    auto out = join(c, "realtime:c");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload, R"({"status":"error","response":{"reason":"ChannelRateLimitReached: Too many channels"}})");
    EXPECT_FALSE(hub->has_channel("realtime:c"));
    // Joining a topic again is a replacement, not one more channel.
    auto again = join(c, "realtime:b", {}, "7");
    EXPECT_FALSE(with_event(again, "phx_reply").empty());
    EXPECT_EQ(compact(with_event(again, "phx_reply")[0].payload).find("\"ok\""), 10u);
}

TEST_F(JoinTest, JoinRateLimit) {
    cfg.limits.max_joins_per_second = 2;
    make_hub();
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:a");
    joined(c, "realtime:b");
    auto out = join(c, "realtime:c");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload,
              R"({"status":"error","response":{"reason":"ClientJoinRateLimitReached: Too many joins per second"}})");
    advance_ms(1000);
    joined(c, "realtime:c");
}

TEST_F(JoinTest, JoinWithExpiredAccessTokenIsRefused) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.access_token = token_for("authenticated", "u", wall() - 5);
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload,
              R"({"status":"error","response":{"reason":"InvalidJWTToken: Token has expired 5 seconds ago"}})");
}

TEST_F(JoinTest, JoinWithForgedAccessTokenIsRefused) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.access_token = sign_hs256(R"({"role":"service_role","exp":9999999999})", "not-the-secret");
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].payload.find("Failed to validate JWT signature"), std::string::npos) << out[0].payload;
    EXPECT_EQ(hub->channel_count(), 0u);
}

TEST_F(JoinTest, SecondJoinReplacesTheFirst) {
    Connection* c = connect(Vsn::V2);
    Connection* other = connect(Vsn::V2);
    joined(c, "realtime:room1", {}, "1");
    joined(other, "realtime:room1", {}, "1");
    auto out = join(c, "realtime:room1", {}, "5");
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].raw, R"(["1","1","realtime:room1","phx_close",{}])");
    EXPECT_EQ(out[1].raw, R"(["5","5","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}])");
    // One membership: a broadcast reaches c once, on the new join.
    broadcast(other, "realtime:room1", "e", "{}");
    auto got = take(*c);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].event, "broadcast");
    EXPECT_EQ(c->members.size(), 1u);
}

TEST_F(JoinTest, ReplicationReadyIsAnsweredAfterTheReply) {
    Connection* c = connect(Vsn::V2);
    send(c, R"(["1","1","realtime:room1","phx_join",{"config":{"broadcast":{"replication_ready":true}}}])");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].event, "phx_reply");
    EXPECT_EQ(out[1].event, "system");
    EXPECT_NE(out[1].payload.find("\"status\":\"ok\""), std::string::npos) << out[1].payload;
    // Without a database it says so.
    db.up = false;
    Connection* d = connect(Vsn::V2);
    send(d, R"(["1","1","realtime:room2","phx_join",{"config":{"broadcast":{"replication_ready":true}}}])");
    auto none = take(*d);
    ASSERT_EQ(none.size(), 2u);
    EXPECT_NE(none[1].payload.find("\"status\":\"error\""), std::string::npos) << none[1].payload;
    // Not asked: no system event.
    Connection* e = connect(Vsn::V2);
    EXPECT_EQ(join(e, "realtime:room3").size(), 1u);
}

TEST_F(JoinTest, PostgresChangesJoinWaitsForTheDatabaseThenEchoesBindingsWithIds) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "," + kNotes + "]";
    auto pending = join(c, "realtime:room1", o, "1");
    EXPECT_TRUE(pending.empty());
    ASSERT_EQ(db.subscribes.size(), 1u);
    const auto& s = db.subscribes[0];
    ASSERT_EQ(s.bindings.size(), 2u);
    EXPECT_EQ(s.bindings[0].event, "*");
    EXPECT_EQ(s.bindings[0].schema, "public");
    EXPECT_EQ(s.bindings[0].table, "todos");
    EXPECT_EQ(s.bindings[0].filter, "");
    EXPECT_EQ(s.bindings[1].event, "INSERT");
    EXPECT_EQ(s.bindings[1].table, "notes");
    EXPECT_EQ(s.bindings[1].filter, "id=eq.1");
    json::Document claims;
    ASSERT_TRUE(json::parse(claims, s.claims_json));
    EXPECT_EQ(json::string_or(json::member(claims, "role"), ""), "authenticated");
    EXPECT_EQ(json::string_or(json::member(claims, "sub"), ""), "user-1");

    hub->on_subscribe_result({s.member_id, true, "", {101, 102}});
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw,
              R"(["1","1","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[)"
              R"({"id":101,"event":"*","schema":"public","table":"todos"},)"
              R"({"id":102,"event":"INSERT","schema":"public","table":"notes","filter":"id=eq.1"}]}}])");
}

TEST_F(JoinTest, PostgresChangesBindingIsEchoedAsTheClientSentIt) {
    Connection* c = connect(Vsn::V2);
    pg_joined(c, "realtime:room1", R"([{"event":"insert","table":"todos","filter":null}])", {7});
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload,
              R"({"status":"ok","response":{"postgres_changes":[{"id":7,"event":"insert","table":"todos","filter":null}]}})");
    EXPECT_EQ(db.subscribes[0].bindings[0].event, "INSERT");
    EXPECT_EQ(db.subscribes[0].bindings[0].schema, "public");
}

TEST_F(JoinTest, PostgresChangesJoinErrorCarriesTheDatabaseMessage) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    join(c, "realtime:room1", o, "1");
    ASSERT_EQ(db.subscribes.size(), 1u);
    hub->on_subscribe_result({db.subscribes[0].member_id, false, "permission denied for table todos", {}});
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw,
              R"(["1","1","realtime:room1","phx_reply",{"status":"error","response":{"reason":"permission denied for table todos"}}])");
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
    EXPECT_TRUE(c->members.empty());
    EXPECT_TRUE(db.unsubscribes.empty());
}

namespace {

// The reply's postgres_changes ids, in order.
std::vector<int64_t> reply_ids(const Out& reply) {
    json::Document d;
    EXPECT_TRUE(json::parse(d, reply.payload)) << reply.raw;
    std::vector<int64_t> ids;
    for (const json::Value& b : d["response"]["postgres_changes"].GetArray()) ids.push_back(b["id"].GetInt64());
    return ids;
}

std::string system_message(const Out& o) {
    json::Document d;
    EXPECT_TRUE(json::parse(d, o.payload)) << o.raw;
    EXPECT_EQ(std::string(d["extension"].GetString()), "postgres_changes");
    EXPECT_EQ(std::string(d["status"].GetString()), "error");
    return d["message"].GetString();
}

}  // namespace

TEST_F(JoinTest, WithoutADatabaseBindingsAreSystemErrorsOfAnOkJoin) {
    db.up = false;
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].event, "phx_reply");
    EXPECT_NE(out[0].payload.find(R"("status":"ok")"), std::string::npos);
    EXPECT_LT(reply_ids(out[0]).at(0), 0);  // an id no subscription row has
    EXPECT_EQ(out[1].event, "system");
    EXPECT_EQ(system_message(out[1]), errors::kNoDatabase);
    EXPECT_TRUE(db.subscribes.empty());
}

TEST_F(JoinTest, AMalformedBindingIsASystemErrorBesideTheGoodOnes) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = R"([{"event":"*","schema":"public","table":"todos","filter":"wrong"},)" + kNotes + "]";
    EXPECT_TRUE(join(c, "realtime:room1", o).empty());  // the good one goes to the database
    ASSERT_EQ(db.subscribes.size(), 1u);
    ASSERT_EQ(db.subscribes[0].bindings.size(), 1u);
    EXPECT_EQ(db.subscribes[0].bindings[0].table, "notes");
    hub->on_subscribe_result({db.subscribes[0].member_id, true, "", {77}});
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    std::vector<int64_t> ids = reply_ids(out[0]);
    ASSERT_EQ(ids.size(), 2u);
    EXPECT_LT(ids[0], 0);
    EXPECT_EQ(ids[1], 77);
    EXPECT_EQ(system_message(out[1]), R"(Error parsing `filter` params: ["wrong"])");
    // The good binding delivers, and "Subscribed to PostgreSQL" counts only it.
    hub->deliver_change(subscribed({77}, 0x100, 0));
    auto live = take(*c);
    ASSERT_EQ(live.size(), 1u);
    EXPECT_NE(live[0].payload.find("Subscribed to PostgreSQL"), std::string::npos);
}

TEST_F(JoinTest, ABindingTheDatabaseRefusesIsASystemError) {
    Connection* c = connect(Vsn::V1);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "," + kNotes + "]";
    join(c, "realtime:room1", o);
    SubscribeResult r{db.subscribes[0].member_id, true, "", {0, 5}};
    r.errors = {"Unable to subscribe ... Exception: relation does not exist", ""};
    hub->on_subscribe_result(std::move(r));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    std::vector<int64_t> ids = reply_ids(out[0]);
    EXPECT_LT(ids.at(0), 0);
    EXPECT_EQ(ids.at(1), 5);
    EXPECT_EQ(system_message(out[1]), "Unable to subscribe ... Exception: relation does not exist");
    send(c, msg(Vsn::V1, "1", "2", "realtime:room1", "phx_leave", "{}"));
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{5}));  // never a failed binding's id
}

TEST_F(JoinTest, NullBindingsAreDroppedAndANonListIsNone) {
    Connection* c = connect(Vsn::V2);
    for (const char* changes : {"[null]", "[null,null]", R"({"event":"*"})", "null"}) {
        JoinOpts o;
        o.postgres_changes = changes;
        auto out = join(c, "realtime:" + std::string(changes), o);
        ASSERT_EQ(out.size(), 1u) << changes;  // no "Subscribed to PostgreSQL", no error
        EXPECT_EQ(out[0].payload, R"({"status":"ok","response":{"postgres_changes":[]}})") << changes;
    }
    EXPECT_TRUE(db.subscribes.empty());
}

TEST_F(JoinTest, AFailedRejoinClosesTheJoinedChannelFirst) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1", {}, "1");
    JoinOpts o;
    o.access_token = "not a token";
    auto out = join(c, "realtime:room1", o, "2");
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].raw, R"(["1","1","realtime:room1","phx_close",{}])");
    EXPECT_EQ(out[1].event, "phx_reply");
    EXPECT_NE(out[1].payload.find(R"("status":"error")"), std::string::npos);
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
}

TEST_F(JoinTest, LeaveBeforeTheDatabaseAnswersUnsubscribesTheIds) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "," + kNotes + "]";
    join(c, "realtime:room1", o, "1");
    ASSERT_EQ(db.subscribes.size(), 1u);
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "phx_leave", "{}"));
    auto left = take(*c);
    ASSERT_FALSE(left.empty());
    EXPECT_EQ(left[0].raw, R"(["1","2","realtime:room1","phx_reply",{"status":"ok","response":{}}])");
    hub->on_subscribe_result({db.subscribes[0].member_id, true, "", {101, 102}});
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{101, 102}));
    // No join reply for a channel that was left, and nothing routed to it.
    EXPECT_TRUE(with_event(take(*c), "phx_reply").empty());
    hub->deliver_change(row({101}, 0x200, 0));
    EXPECT_TRUE(take(*c).empty());
    EXPECT_TRUE(c->members.empty());
}

TEST_F(JoinTest, ClosingBeforeTheDatabaseAnswersUnsubscribesTheIds) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    join(c, "realtime:room1", o, "1");
    uint64_t member = db.subscribes.at(0).member_id;
    hub->closed(*c);
    hub->on_subscribe_result({member, true, "", {55}});
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{55}));
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
}

TEST_F(JoinTest, RejoinWhilePendingUndoesTheFirstSubscription) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    join(c, "realtime:room1", o, "1");
    join(c, "realtime:room1", o, "2");
    ASSERT_EQ(db.subscribes.size(), 2u);
    hub->on_subscribe_result({db.subscribes[0].member_id, true, "", {1}});
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{1}));
    hub->on_subscribe_result({db.subscribes[1].member_id, true, "", {2}});
    auto out = with_event(take(*c), "phx_reply");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].join_ref, std::optional<std::string>("2"));
    EXPECT_NE(out[0].payload.find("\"id\":2"), std::string::npos);
}

TEST_F(JoinTest, SubscriptionCountMismatchIsAnErrorAndUndone) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "," + kNotes + "]";
    join(c, "realtime:room1", o, "1");
    hub->on_subscribe_result({db.subscribes.at(0).member_id, true, "", {101}});
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].payload.find("\"status\":\"error\""), std::string::npos);
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{101}));
    EXPECT_TRUE(c->members.empty());
}

TEST_F(JoinTest, LeavingAJoinedChannelUnsubscribesItsIds) {
    Connection* c = connect(Vsn::V2);
    pg_joined(c, "realtime:room1", "[" + kTodos + "," + kNotes + "]", {101, 102});
    take(*c);
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "phx_leave", "{}"));
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{101, 102}));
    hub->deliver_change(row({101}, 0x300, 0));
    auto out = take(*c);
    EXPECT_TRUE(with_event(out, "postgres_changes").empty());
}
