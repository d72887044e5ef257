// relay/hub/hub + relay/hub/changes: the Phoenix / Supabase protocol as the hub speaks
// it, driven through fake ports (tests/unit/fakes.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "fakes.h"
#include "client_frames.h"
#include "relay/slot/plugin_doc.h"
#include "relay/hub/hub.h"
#include "relay/protocol/jwt.h"
#include "relay/core/log.h"

using namespace rt;
using namespace rt::testing;
using phoenix::Vsn;

namespace {

constexpr const char* kSecret = "unit-test-secret-unit-test-secret";
constexpr int64_t kMono0 = 50'000'000;
constexpr int64_t kWall0 = 1'700'000'000;

std::string token_for(std::string_view role, std::string_view sub, int64_t exp) {
    std::string claims = "{\"role\":\"" + std::string(role) + "\",\"exp\":" + std::to_string(exp);
    if (!sub.empty()) claims += ",\"sub\":\"" + std::string(sub) + "\"";
    claims += "}";
    return sign_hs256(claims, kSecret);
}

std::string q(std::string_view s) {
    std::string out;
    json::append_string(out, s);
    return out;
}

std::string ref_json(std::optional<std::string_view> r) { return r ? q(*r) : "null"; }

// A client message in the text form of vsn (v1 carries join_ref too, as realtime-js does).
std::string msg(Vsn vsn, std::optional<std::string_view> join_ref, std::optional<std::string_view> ref,
                std::string_view topic, std::string_view event, std::string_view payload) {
    if (vsn == Vsn::V2)
        return "[" + ref_json(join_ref) + "," + ref_json(ref) + "," + q(topic) + "," + q(event) + "," +
               std::string(payload) + "]";
    return "{\"topic\":" + q(topic) + ",\"event\":" + q(event) + ",\"payload\":" + std::string(payload) +
           ",\"ref\":" + ref_json(ref) + ",\"join_ref\":" + ref_json(join_ref) + "}";
}

struct JoinOpts {
    bool self = false;
    bool ack = false;
    bool presence = false;
    std::string key;
    std::string postgres_changes = "[]";
    std::string is_private = "false";
    std::string access_token;  // empty: none in the payload
};

std::string join_payload(const JoinOpts& o) {
    std::string p = "{\"config\":{\"broadcast\":{\"ack\":" + std::string(o.ack ? "true" : "false") +
                    ",\"self\":" + (o.self ? "true" : "false") + "},\"presence\":{\"enabled\":" +
                    (o.presence ? "true" : "false") + ",\"key\":" + q(o.key) +
                    "},\"postgres_changes\":" + o.postgres_changes + ",\"private\":" + o.is_private + "}";
    if (!o.access_token.empty()) p += ",\"access_token\":" + q(o.access_token);
    p += "}";
    return p;
}

// A presence entry of another node, as the mesh hands it to the hub.
PresenceDelta remote_entry(std::string_view topic, uint64_t owner, std::string_view key, std::string_view phx_ref,
                           std::string_view meta_json = "{}") {
    PresenceDelta d;
    d.topic = topic;
    d.entry.owner = owner;
    d.entry.key = key;
    d.entry.phx_ref = phx_ref;
    d.entry.meta_json = meta_json;
    return d;
}

ChangeEvent row(std::vector<int64_t> ids, uint64_t lsn, uint32_t index,
                std::string_view data = R"({"schema":"public","table":"todos","type":"INSERT","record":{"id":1},"errors":null})") {
    ChangeEvent ev;
    ev.kind = ChangeEvent::Kind::Row;
    ev.pos = {lsn, index};
    ev.payload = postgres_changes_payload(ids, data);
    ev.ids = std::move(ids);
    return ev;
}

ChangeEvent subscribed(std::vector<int64_t> ids, uint64_t lsn, uint32_t index) {
    ChangeEvent ev;
    ev.kind = ChangeEvent::Kind::Subscribed;
    ev.pos = {lsn, index};
    ev.ids = std::move(ids);
    return ev;
}

const std::string kTodos = R"({"event":"*","schema":"public","table":"todos"})";
const std::string kNotes = R"({"event":"INSERT","schema":"public","table":"notes","filter":"id=eq.1"})";

std::vector<Out> with_event(const std::vector<Out>& frames, std::string_view event) {
    std::vector<Out> out;
    for (const Out& o : frames)
        if (o.event == event) out.push_back(o);
    return out;
}

std::string ids_of(const Out& o) {
    json::Document d;
    if (!json::parse(d, o.payload)) return "<bad>";
    const json::Value* ids = json::member(d, "ids");
    return ids ? json::stringify(*ids) : "<none>";
}

class HubTest : public ::testing::Test {
protected:
    void SetUp() override {
        log::set_level(log::Level::Warn);  // the hub's info lines are noise here
        cfg.node_id = "node-a";
        cfg.jwt_secret = kSecret;
        cfg.resume_grace_s = 10;
        make_hub();
    }

    void make_hub() {
        hub = std::make_unique<Hub>(cfg, transport, metrics, &db, &cluster);
        cluster.hub = hub.get();
        hub->set_clock(mono, wall());
    }

    int64_t wall() const { return kWall0 + (mono - kMono0) / 1000; }
    void advance_ms(int64_t ms) {
        mono += ms;
        hub->set_clock(mono, wall());
    }

    Connection* connect(Vsn vsn, std::string_view sub = "user-1", int64_t exp_in_s = 3600,
                        std::string_view role = "authenticated") {
        std::string token = token_for(role, sub, wall() + exp_in_s);
        JwtResult r = JwtVerifier(kSecret).verify(token, wall());
        EXPECT_TRUE(r.ok) << r.error;
        return hub->open(nullptr, vsn, r.claims, token);
    }

    void send(Connection* c, const std::string& text) { hub->receive(*c, text, false); }
    void send_binary(Connection* c, const std::string& bytes) { hub->receive(*c, bytes, true); }

    // Joins topic with ref = join_ref = jr; returns what the hub queued.
    std::vector<Out> join(Connection* c, std::string_view topic, const JoinOpts& o = {}, std::string_view jr = "1") {
        send(c, msg(c->vsn, jr, jr, topic, "phx_join", join_payload(o)));
        return take(*c);
    }

    // Joins and asserts the ok reply.
    void joined(Connection* c, std::string_view topic, const JoinOpts& o = {}, std::string_view jr = "1") {
        auto frames = join(c, topic, o, jr);
        ASSERT_FALSE(frames.empty());
        EXPECT_EQ(frames[0].event, "phx_reply");
        EXPECT_EQ(compact(frames[0].payload).substr(0, 14), R"({"status":"ok")") << frames[0].raw;
    }

    void broadcast(Connection* c, std::string_view topic, std::string_view event, std::string_view payload,
                   std::string_view ref = "9", std::string_view jr = "1") {
        send(c, msg(c->vsn, jr, ref, topic, "broadcast",
                    "{\"type\":\"broadcast\",\"event\":" + q(event) + ",\"payload\":" + std::string(payload) + "}"));
    }

    // A postgres_changes join answered by the database with ids.
    void pg_joined(Connection* c, std::string_view topic, const std::string& bindings, std::vector<int64_t> ids,
                   std::string_view jr = "1") {
        JoinOpts o;
        o.postgres_changes = bindings;
        auto frames = join(c, topic, o, jr);
        EXPECT_TRUE(frames.empty()) << "the reply waits for the database";
        ASSERT_FALSE(db.subscribes.empty());
        SubscribeResult r;
        r.member_id = db.subscribes.back().member_id;
        r.ok = true;
        r.ids = std::move(ids);
        hub->on_subscribe_result(std::move(r));
    }

    Config cfg;
    Metrics metrics;
    FakeTransport transport;
    FakeDb db;
    FakeCluster cluster;
    std::unique_ptr<Hub> hub;
    int64_t mono = kMono0;
};

}  // namespace

// -- heartbeat, join, leave ------------------------------------------------------------

TEST_F(HubTest, HeartbeatV2GetsOkReply) {
    Connection* c = connect(Vsn::V2);
    send(c, R"([null,"26","phoenix","heartbeat",{}])");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, R"([null,"26","phoenix","phx_reply",{"status":"ok","response":{}}])");
    EXPECT_FALSE(out[0].binary);
    EXPECT_FALSE(transport.writes.empty()) << "queuing a frame asks the transport to write";
}

TEST_F(HubTest, HeartbeatV1GetsOkReply) {
    Connection* c = connect(Vsn::V1);
    send(c, R"({"topic":"phoenix","event":"heartbeat","payload":{},"ref":"3"})");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, R"({"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"3"})");
}

TEST_F(HubTest, MalformedFrameGetsPhxErrorAndConnectionStays) {
    Connection* c = connect(Vsn::V2);
    send(c, "{not json");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].topic, "phoenix");
    EXPECT_EQ(out[0].event, "phx_error");
    EXPECT_TRUE(transport.closes.empty());
    send(c, R"([null,"2","phoenix","heartbeat",{}])");
    EXPECT_EQ(take(*c).size(), 1u);
}

TEST_F(HubTest, JoinReplyV1) {
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

TEST_F(HubTest, JoinReplyV2) {
    Connection* c = connect(Vsn::V2);
    send(c, R"(["3","4","realtime:room1","phx_join",{"config":{"broadcast":{"ack":false,"self":false},)"
            R"("presence":{"enabled":false,"key":""},"postgres_changes":[],"private":false}}])");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, R"(["3","4","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}])");
}

TEST_F(HubTest, JoinWithoutConfigIsAccepted) {
    Connection* c = connect(Vsn::V2);
    send(c, R"(["1","1","realtime:room1","phx_join",{}])");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload, R"({"status":"ok","response":{"postgres_changes":[]}})");
}

TEST_F(HubTest, JoinOfOtherPrefixIsUnmatchedTopic) {
    Connection* c = connect(Vsn::V2);
    auto out = join(c, "room1");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, R"(["1","1","room1","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}])");
    EXPECT_EQ(hub->channel_count(), 0u);
}

TEST_F(HubTest, MessageOnATopicNotJoinedIsUnmatchedTopic) {
    Connection* c = connect(Vsn::V2);
    broadcast(c, "realtime:nowhere", "e", "{}", "5");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ref, std::optional<std::string>("5"));
    EXPECT_EQ(out[0].payload, R"({"status":"error","response":{"reason":"unmatched topic"}})");
    EXPECT_TRUE(cluster.broadcasts.empty());
}

TEST_F(HubTest, BareRealtimeTopicNeedsAName) {
    Connection* c = connect(Vsn::V2);
    auto out = join(c, "realtime:");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload,
              R"({"status":"error","response":{"reason":"TopicNameRequired: You must provide a topic name"}})");
}

TEST_F(HubTest, PrivateJoinIsRefused) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.is_private = "true";
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload,
              R"({"status":"error","response":{"reason":"Unauthorized: You do not have permissions to read from this Channel topic: room1"}})");
    EXPECT_EQ(hub->channel_count(), 0u);
    // Not joined: a broadcast there is refused.
    broadcast(c, "realtime:room1", "e", "{}");
    auto after = take(*c);
    ASSERT_EQ(after.size(), 1u);
    EXPECT_NE(after[0].payload.find("unmatched topic"), std::string::npos);
}

TEST_F(HubTest, PrivateAsStringTrueIsRefusedToo) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.is_private = "\"true\"";
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].payload.find("Unauthorized"), std::string::npos);
}

TEST_F(HubTest, TooManyChannels) {
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

TEST_F(HubTest, JoinRateLimit) {
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

TEST_F(HubTest, JoinWithExpiredAccessTokenIsRefused) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.access_token = token_for("authenticated", "u", wall() - 5);
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload,
              R"({"status":"error","response":{"reason":"InvalidJWTToken: Token has expired 5 seconds ago"}})");
}

TEST_F(HubTest, JoinWithForgedAccessTokenIsRefused) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.access_token = sign_hs256(R"({"role":"service_role","exp":9999999999})", "not-the-secret");
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].payload.find("Failed to validate JWT signature"), std::string::npos) << out[0].payload;
    EXPECT_EQ(hub->channel_count(), 0u);
}

TEST_F(HubTest, SecondJoinReplacesTheFirst) {
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

TEST_F(HubTest, LeaveRepliesThenCloses) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1", {}, "1");
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "phx_leave", "{}"));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].raw, R"(["1","2","realtime:room1","phx_reply",{"status":"ok","response":{}}])");
    EXPECT_EQ(out[1].raw, R"(["1","1","realtime:room1","phx_close",{}])");
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
    ASSERT_EQ(cluster.interest.size(), 2u);
    EXPECT_EQ(cluster.interest[1], (std::pair<std::string, bool>{"realtime:room1", false}));
    // Left: further messages on the topic are unmatched.
    broadcast(c, "realtime:room1", "e", "{}");
    EXPECT_NE(take(*c).at(0).payload.find("unmatched topic"), std::string::npos);
}

TEST_F(HubTest, LeaveV1ClosesWithJoinRefAsRef) {
    Connection* c = connect(Vsn::V1);
    joined(c, "realtime:room1", {}, "4");
    send(c, msg(Vsn::V1, "4", "8", "realtime:room1", "phx_leave", "{}"));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].raw, R"({"topic":"realtime:room1","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"8"})");
    EXPECT_EQ(out[1].raw, R"({"topic":"realtime:room1","event":"phx_close","payload":{},"ref":"4"})");
}

TEST_F(HubTest, UnknownEventOnJoinedTopicIsAnError) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    send(c, msg(Vsn::V2, "1", "3", "realtime:room1", "nonsense", "{}"));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].payload.find("\"status\":\"error\""), std::string::npos);
    EXPECT_EQ(out[0].ref, std::optional<std::string>("3"));
}

TEST_F(HubTest, ClosedConnectionLeavesItsChannels) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    hub->closed(*c);
    EXPECT_EQ(hub->connection_count(), 0u);
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
    ASSERT_FALSE(cluster.interest.empty());
    EXPECT_EQ(cluster.interest.back(), (std::pair<std::string, bool>{"realtime:room1", false}));
}

// -- broadcast -------------------------------------------------------------------------

TEST_F(HubTest, BroadcastFansOutToV1AndV2WithoutSelfAndAcks) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V1);
    Connection* c = connect(Vsn::V2);
    JoinOpts ack;
    ack.ack = true;
    joined(a, "realtime:room1", ack);
    joined(b, "realtime:room1");
    joined(c, "realtime:room1");
    broadcast(a, "realtime:room1", "shout", R"({"x":1,"s":"hé"})", "9");

    auto to_a = take(*a);
    ASSERT_EQ(to_a.size(), 1u) << "self is false: only the ack";
    EXPECT_EQ(to_a[0].raw, R"(["1","9","realtime:room1","phx_reply",{"status":"ok","response":{}}])");
    auto to_b = take(*b);
    ASSERT_EQ(to_b.size(), 1u);
    EXPECT_EQ(to_b[0].raw,
              R"({"topic":"realtime:room1","event":"broadcast","payload":{"type":"broadcast","event":"shout","payload":{"x":1,"s":"hé"}},"ref":null})");
    auto to_c = take(*c);
    ASSERT_EQ(to_c.size(), 1u);
    EXPECT_EQ(to_c[0].raw,
              R"([null,null,"realtime:room1","broadcast",{"type":"broadcast","event":"shout","payload":{"x":1,"s":"hé"}}])");

    ASSERT_EQ(cluster.broadcasts.size(), 1u);
    EXPECT_EQ(cluster.broadcasts[0].topic, "realtime:room1");
    EXPECT_EQ(cluster.broadcasts[0].event, "shout");
    EXPECT_EQ(compact(cluster.broadcasts[0].payload), compact(R"({"x":1,"s":"hé"})"));
    EXPECT_FALSE(cluster.broadcasts[0].binary_origin);
}

TEST_F(HubTest, BroadcastSelfTrueReachesTheSenderWithoutAckReply) {
    Connection* a = connect(Vsn::V2);
    JoinOpts self;
    self.self = true;
    joined(a, "realtime:room1", self);
    broadcast(a, "realtime:room1", "e", "{}");
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].event, "broadcast");
    EXPECT_EQ(out[0].payload, R"({"type":"broadcast","event":"e","payload":{}})");
}

TEST_F(HubTest, MemberLeavingTheMiddleOfAChannelKeepsTheOthersReachable) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V2);
    Connection* c = connect(Vsn::V2);
    Connection* d = connect(Vsn::V2);
    for (Connection* x : {a, b, c, d}) joined(x, "realtime:room1");
    send(b, msg(Vsn::V2, "1", "2", "realtime:room1", "phx_leave", "{}"));
    take(*b);
    broadcast(d, "realtime:room1", "e", "{}");
    EXPECT_EQ(take(*a).size(), 1u);
    EXPECT_TRUE(take(*b).empty());
    EXPECT_EQ(take(*c).size(), 1u);
    hub->closed(*a);
    broadcast(d, "realtime:room1", "e", "{}");
    EXPECT_EQ(take(*c).size(), 1u);
    EXPECT_TRUE(take(*d).empty());
    EXPECT_TRUE(hub->has_channel("realtime:room1"));
}

TEST_F(HubTest, BroadcastOnlyReachesItsChannel) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V2);
    joined(a, "realtime:room1");
    joined(b, "realtime:room10");
    broadcast(a, "realtime:room1", "e", "{}");
    EXPECT_TRUE(take(*b).empty());
}

TEST_F(HubTest, BroadcastWithoutEventIsAnError) {
    Connection* a = connect(Vsn::V2);
    joined(a, "realtime:room1");
    send(a, msg(Vsn::V2, "1", "3", "realtime:room1", "broadcast", R"({"type":"broadcast","payload":{}})"));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].payload.find("\"error\""), std::string::npos);
    EXPECT_TRUE(cluster.broadcasts.empty());
}

TEST_F(HubTest, BinaryBroadcastGoesAsKind4ToV2AndJsonToV1) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V1);
    Connection* c = connect(Vsn::V2);
    joined(a, "realtime:room1");
    joined(b, "realtime:room1");
    joined(c, "realtime:room1");
    send_binary(a, kind3("1", "9", "realtime:room1", "cursor", "", 1, R"({"x":5})"));

    EXPECT_TRUE(take(*a).empty());
    auto to_c = take(*c);
    ASSERT_EQ(to_c.size(), 1u);
    EXPECT_TRUE(to_c[0].binary);
    std::string expected;
    phoenix::encode_user_broadcast(expected, "realtime:room1", "cursor", "", true, R"({"x":5})");
    EXPECT_EQ(to_c[0].raw, expected);
    EXPECT_EQ(to_c[0].raw[0], 4);
    auto to_b = take(*b);
    ASSERT_EQ(to_b.size(), 1u);
    EXPECT_FALSE(to_b[0].binary);
    EXPECT_EQ(to_b[0].event, "broadcast");
    EXPECT_EQ(to_b[0].payload, R"({"type":"broadcast","event":"cursor","payload":{"x":5}})");
    ASSERT_EQ(cluster.broadcasts.size(), 1u);
    EXPECT_TRUE(cluster.broadcasts[0].binary_origin);
}

TEST_F(HubTest, RawBinaryPayloadSkipsV1Members) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V1);
    Connection* c = connect(Vsn::V2);
    joined(a, "realtime:room1");
    joined(b, "realtime:room1");
    joined(c, "realtime:room1");
    std::string bytes("\x00\x01\xff", 3);
    send_binary(a, kind3("1", "9", "realtime:room1", "blob", "", 0, bytes));
    EXPECT_TRUE(take(*b).empty());
    auto to_c = take(*c);
    ASSERT_EQ(to_c.size(), 1u);
    std::string expected;
    phoenix::encode_user_broadcast(expected, "realtime:room1", "blob", "", false, bytes);
    EXPECT_EQ(to_c[0].raw, expected);
}

TEST_F(HubTest, BinaryBroadcastWithAckGetsTextReply) {
    Connection* a = connect(Vsn::V2);
    JoinOpts ack;
    ack.ack = true;
    joined(a, "realtime:room1", ack, "1");
    send_binary(a, kind3("1", "9", "realtime:room1", "e", "", 1, "{}"));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, R"(["1","9","realtime:room1","phx_reply",{"status":"ok","response":{}}])");
}

TEST_F(HubTest, DeliveredBroadcastCarriesMeta) {
    Connection* b = connect(Vsn::V1);
    Connection* c = connect(Vsn::V2);
    joined(b, "realtime:room1");
    joined(c, "realtime:room1");
    BroadcastMsg m;
    m.topic = "realtime:room1";
    m.event = "from_sql";
    m.payload = R"({"n":1.50})";
    m.meta_json = R"({"id":"abc"})";
    hub->deliver_broadcast(m);
    auto to_b = take(*b);
    ASSERT_EQ(to_b.size(), 1u);
    EXPECT_EQ(to_b[0].raw,
              R"({"topic":"realtime:room1","event":"broadcast","payload":{"type":"broadcast","event":"from_sql","payload":{"n":1.50},"meta":{"id":"abc"}},"ref":null})");
    auto to_c = take(*c);
    ASSERT_EQ(to_c.size(), 1u);
    EXPECT_EQ(to_c[0].raw,
              R"([null,null,"realtime:room1","broadcast",{"type":"broadcast","event":"from_sql","payload":{"n":1.50},"meta":{"id":"abc"}}])");
    EXPECT_TRUE(cluster.broadcasts.empty()) << "delivered messages are not published again";
}

TEST_F(HubTest, DeliveredBroadcastsFromTheSlotAreDeduplicated) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    BroadcastMsg m;
    m.topic = "realtime:room1";
    m.event = "e";
    m.payload = "{}";
    m.pos = {0x100, 1};
    hub->deliver_broadcast(m);
    hub->deliver_broadcast(m);  // replay after a failover
    EXPECT_EQ(take(*c).size(), 1u);
    m.pos = {0x100, 2};
    hub->deliver_broadcast(m);
    EXPECT_EQ(take(*c).size(), 1u);
}

TEST_F(HubTest, ReplicationReadyIsAnsweredAfterTheReply) {
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

// -- presence --------------------------------------------------------------------------

TEST_F(HubTest, PresenceStateAfterJoinAndDiffsOnTrackAndUntrack) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V1);
    JoinOpts pa;
    pa.presence = true;
    pa.key = "alice";
    auto ja = join(a, "realtime:room1", pa);
    ASSERT_EQ(ja.size(), 2u);
    EXPECT_EQ(ja[0].event, "phx_reply");
    EXPECT_EQ(ja[1].raw, R"(["1",null,"realtime:room1","presence_state",{}])");

    send(a, msg(Vsn::V2, "1", "2", "realtime:room1", "presence",
                R"({"type":"presence","event":"track","payload":{"name":"Alice"}})"));
    auto ta = take(*a);
    ASSERT_EQ(ta.size(), 2u);
    EXPECT_EQ(ta[0].event, "presence_diff");
    json::Document diff;
    ASSERT_TRUE(json::parse(diff, ta[0].payload));
    const json::Value* metas = json::member(*json::member(*json::member(diff, "joins"), "alice"), "metas");
    ASSERT_NE(metas, nullptr);
    ASSERT_EQ(metas->Size(), 1u);
    EXPECT_EQ(json::string_or(json::member((*metas)[0], "name"), ""), "Alice");
    std::string phx_ref(json::string_or(json::member((*metas)[0], "phx_ref"), ""));
    EXPECT_FALSE(phx_ref.empty());
    EXPECT_EQ(json::stringify(*json::member(diff, "leaves")), "{}");
    EXPECT_EQ(ta[1].raw, R"(["1","2","realtime:room1","phx_reply",{"status":"ok","response":{}}])");
    ASSERT_EQ(cluster.presence.size(), 1u);
    EXPECT_TRUE(cluster.presence[0].join);
    EXPECT_EQ(cluster.presence[0].entry.key, "alice");
    EXPECT_EQ(cluster.presence[0].entry.phx_ref, phx_ref);

    // A later member sees alice in its presence_state.
    JoinOpts pb;
    pb.presence = true;
    pb.key = "bob";
    auto jb = join(b, "realtime:room1", pb);
    ASSERT_EQ(jb.size(), 2u);
    EXPECT_EQ(jb[1].event, "presence_state");
    EXPECT_EQ(jb[1].payload, "{\"alice\":{\"metas\":[{\"phx_ref\":\"" + phx_ref + "\",\"name\":\"Alice\"}]}}");

    send(a, msg(Vsn::V2, "1", "3", "realtime:room1", "presence", R"({"type":"presence","event":"untrack"})"));
    auto ub = take(*b);
    ASSERT_EQ(ub.size(), 1u);
    EXPECT_EQ(ub[0].raw, "{\"topic\":\"realtime:room1\",\"event\":\"presence_diff\",\"payload\":{\"joins\":{},\"leaves\":"
                         "{\"alice\":{\"metas\":[{\"phx_ref\":\"" + phx_ref + "\",\"name\":\"Alice\"}]}}},\"ref\":null}");
    ASSERT_EQ(cluster.presence.size(), 2u);
    EXPECT_FALSE(cluster.presence[1].join);
    EXPECT_EQ(hub->presence().entries(), 0u);
}

TEST_F(HubTest, PresenceUpdateIsJoinPlusLeaveWithPhxRefPrev) {
    Connection* a = connect(Vsn::V2);
    JoinOpts pa;
    pa.presence = true;
    pa.key = "k";
    join(a, "realtime:room1", pa);
    send(a, msg(Vsn::V2, "1", "2", "realtime:room1", "presence", R"({"type":"presence","event":"track","payload":{"v":1}})"));
    take(*a);
    std::string first = hub->presence().find("realtime:room1", "", a->members[0]->id)->phx_ref;
    send(a, msg(Vsn::V2, "1", "3", "realtime:room1", "presence", R"({"type":"presence","event":"track","payload":{"v":2}})"));
    auto out = with_event(take(*a), "presence_diff");
    ASSERT_EQ(out.size(), 1u);
    json::Document d;
    ASSERT_TRUE(json::parse(d, out[0].payload));
    const json::Value& join_meta = (*json::member(*json::member(*json::member(d, "joins"), "k"), "metas"))[0];
    const json::Value& leave_meta = (*json::member(*json::member(*json::member(d, "leaves"), "k"), "metas"))[0];
    EXPECT_EQ(json::string_or(json::member(join_meta, "phx_ref_prev"), ""), first);
    EXPECT_EQ(json::member(join_meta, "v")->GetInt(), 2);
    EXPECT_EQ(json::string_or(json::member(leave_meta, "phx_ref"), ""), first);
    EXPECT_EQ(json::member(leave_meta, "v")->GetInt(), 1);
    EXPECT_NE(json::string_or(json::member(join_meta, "phx_ref"), ""), first);
    EXPECT_EQ(hub->presence().entries(), 1u);
}

TEST_F(HubTest, PresenceTrackNeedsAnObject) {
    Connection* a = connect(Vsn::V2);
    JoinOpts pa;
    pa.presence = true;
    join(a, "realtime:room1", pa);
    send(a, msg(Vsn::V2, "1", "2", "realtime:room1", "presence", R"({"type":"presence","event":"track","payload":[1]})"));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload, R"({"status":"error","response":{"reason":"Presence track payload must be a map"}})");
    EXPECT_EQ(hub->presence().entries(), 0u);
}

TEST_F(HubTest, TrackOnChannelJoinedWithoutPresenceEnablesIt) {
    Connection* a = connect(Vsn::V2);
    joined(a, "realtime:room1");
    send(a, msg(Vsn::V2, "1", "2", "realtime:room1", "presence", R"({"type":"presence","event":"track","payload":{}})"));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].event, "presence_state");
    EXPECT_EQ(out[0].payload, "{}");
    EXPECT_EQ(out[1].event, "presence_diff");
    EXPECT_EQ(out[2].event, "phx_reply");
}

TEST_F(HubTest, MembersWithoutPresenceGetNoDiffs) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V2);
    JoinOpts pa;
    pa.presence = true;
    join(a, "realtime:room1", pa);
    joined(b, "realtime:room1");
    send(a, msg(Vsn::V2, "1", "2", "realtime:room1", "presence", R"({"type":"presence","event":"track","payload":{}})"));
    EXPECT_TRUE(take(*b).empty());
}

TEST_F(HubTest, LeavingUntracksPresence) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V2);
    JoinOpts p;
    p.presence = true;
    p.key = "a";
    join(a, "realtime:room1", p);
    p.key = "b";
    join(b, "realtime:room1", p);
    send(a, msg(Vsn::V2, "1", "2", "realtime:room1", "presence", R"({"type":"presence","event":"track","payload":{}})"));
    take(*b);
    hub->closed(*a);
    auto out = take(*b);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].event, "presence_diff");
    EXPECT_NE(out[0].payload.find(R"("leaves":{"a":)"), std::string::npos) << out[0].payload;
    EXPECT_EQ(hub->presence().entries(), 0u);
}

TEST_F(HubTest, RemotePresenceReachesLocalMembers) {
    Connection* a = connect(Vsn::V2);
    JoinOpts p;
    p.presence = true;
    join(a, "realtime:room1", p);
    hub->apply_remote_presence("node-b", remote_entry("realtime:room1", 77, "remote", "R1", R"({"n":1})"));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload, R"({"joins":{"remote":{"metas":[{"phx_ref":"R1","n":1}]}},"leaves":{}})");
    hub->remove_remote_presence("node-b");
    out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload, R"({"joins":{},"leaves":{"remote":{"metas":[{"phx_ref":"R1","n":1}]}}})");
}

TEST_F(HubTest, RemoteSnapshotDiffsOnlyWhatChanged) {
    Connection* a = connect(Vsn::V2);
    JoinOpts p;
    p.presence = true;
    join(a, "realtime:room1", p);
    PresenceDelta one = remote_entry("realtime:room1", 1, "x", "R1");
    hub->replace_remote_presence("node-b", {one});
    auto first = take(*a);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].payload, R"({"joins":{"x":{"metas":[{"phx_ref":"R1"}]}},"leaves":{}})");
    hub->replace_remote_presence("node-b", {one});
    EXPECT_TRUE(take(*a).empty()) << "the same snapshot again changes nothing";
    hub->replace_remote_presence("node-b", {});
    auto gone = take(*a);
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0].payload, R"({"joins":{},"leaves":{"x":{"metas":[{"phx_ref":"R1"}]}}})");
}

TEST_F(HubTest, PresenceSnapshotForPeersHasOnlyLocalEntries) {
    Connection* a = connect(Vsn::V2);
    JoinOpts p;
    p.presence = true;
    p.key = "mine";
    join(a, "realtime:room1", p);
    send(a, msg(Vsn::V2, "1", "2", "realtime:room1", "presence", R"({"type":"presence","event":"track","payload":{"n":1}})"));
    hub->apply_remote_presence("node-b", remote_entry("realtime:room1", 5, "theirs", "R", ""));
    std::vector<PresenceDelta> local;
    hub->for_each_presence_entry([&](const PresenceDelta& d) { local.push_back(d); });
    ASSERT_EQ(local.size(), 1u);
    EXPECT_TRUE(local[0].join);
    EXPECT_EQ(local[0].topic, "realtime:room1");
    EXPECT_EQ(local[0].entry.key, "mine");
    EXPECT_EQ(local[0].entry.meta_json, R"({"n":1})");
}

// -- access tokens ---------------------------------------------------------------------

TEST_F(HubTest, AccessTokenRefreshValidHasNoReplyAndExtendsTheChannel) {
    Connection* c = connect(Vsn::V2, "user-1", 60);
    joined(c, "realtime:room1");
    std::string fresh = token_for("authenticated", "user-1", wall() + 7200);
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", "{\"access_token\":" + q(fresh) + "}"));
    EXPECT_TRUE(take(*c).empty());
    // Past the first token's expiry, the channel lives on the new token.
    advance_ms(120'000);
    send(c, R"([null,"3","phoenix","heartbeat",{}])");  // keep the socket from idling
    take(*c);
    hub->tick();
    EXPECT_TRUE(take(*c).empty());
    EXPECT_TRUE(hub->has_channel("realtime:room1"));
}

TEST_F(HubTest, AccessTokenInvalidClosesTheChannel) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1", {}, "1");
    std::string forged = sign_hs256(R"({"role":"anon","exp":9999999999})", "wrong");
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", "{\"access_token\":" + q(forged) + "}"));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].raw,
              R"(["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Failed to validate JWT signature","channel":"room1"}])");
    EXPECT_EQ(out[1].raw, R"(["1","1","realtime:room1","phx_close",{}])");
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
}

TEST_F(HubTest, AccessTokenExpiredSaysHowLongAgo) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    std::string old = token_for("authenticated", "user-1", wall() - 42);
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", "{\"access_token\":" + q(old) + "}"));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].event, "system");
    EXPECT_NE(out[0].payload.find("Token has expired 42 seconds ago"), std::string::npos) << out[0].payload;
    EXPECT_EQ(out[1].event, "phx_close");
}

TEST_F(HubTest, AccessTokenNullOrSameIsIgnored) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", R"({"access_token":null})"));
    send(c, msg(Vsn::V2, "1", "3", "realtime:room1", "access_token", "{\"access_token\":" + q(c->token) + "}"));
    EXPECT_TRUE(take(*c).empty());
    EXPECT_TRUE(hub->has_channel("realtime:room1"));
}

// -- rate limits, slow clients, tick ---------------------------------------------------

TEST_F(HubTest, MessageRateLimitSendsSystemErrorThenCloses) {
    cfg.limits.max_events_per_second = 3;
    make_hub();
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1", {}, "1");
    for (int i = 0; i < 3; ++i) broadcast(c, "realtime:room1", "e", "{}");
    EXPECT_TRUE(take(*c).empty());
    broadcast(c, "realtime:room1", "e", "{}");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].raw,
              R"(["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Too many messages per second","channel":"room1"}])");
    EXPECT_EQ(out[1].raw, R"(["1","1","realtime:room1","phx_close",{}])");
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
    EXPECT_EQ(cluster.broadcasts.size(), 3u);
}

TEST_F(HubTest, HeartbeatsAreNotRateLimited) {
    cfg.limits.max_events_per_second = 2;
    make_hub();
    Connection* c = connect(Vsn::V2);
    for (int i = 0; i < 10; ++i) send(c, R"([null,"1","phoenix","heartbeat",{}])");
    EXPECT_EQ(take(*c).size(), 10u);
}

TEST_F(HubTest, SlowClientIsDisconnectedWhenItsQueueIsFull) {
    cfg.limits.max_send_queue_bytes = 1000;
    make_hub();
    Connection* sender = connect(Vsn::V2);
    Connection* slow = connect(Vsn::V2);
    joined(sender, "realtime:room1");
    joined(slow, "realtime:room1");
    std::string payload = "{\"pad\":\"" + std::string(200, 'x') + "\"}";
    int sent = 0;
    while (!transport.closed(slow) && sent < 20) {
        broadcast(sender, "realtime:room1", "e", payload);
        ++sent;
    }
    ASSERT_TRUE(transport.closed(slow));
    EXPECT_EQ(transport.close_of(slow)->code, 1008);
    EXPECT_LE(sent, 5) << "about 1000 bytes of ~260-byte frames";
    EXPECT_TRUE(slow->queue.empty()) << "the queue's memory is released";
    EXPECT_FALSE(transport.closed(sender));
    // Nothing more is queued to it.
    broadcast(sender, "realtime:room1", "e", "{}");
    EXPECT_TRUE(slow->queue.empty());
    EXPECT_EQ(metrics.slow_client_disconnects.load(), 1u);
}

TEST_F(HubTest, TickClosesIdleSockets) {
    Connection* idle = connect(Vsn::V2);
    Connection* busy = connect(Vsn::V2);
    advance_ms(cfg.limits.idle_timeout_s * 1000 - 1000);
    send(busy, R"([null,"1","phoenix","heartbeat",{}])");
    hub->tick();
    EXPECT_TRUE(transport.closes.empty());
    advance_ms(2000);
    hub->tick();
    ASSERT_EQ(transport.closes.size(), 1u);
    EXPECT_EQ(transport.closes[0].conn_id, idle->id);
    EXPECT_EQ(transport.closes[0].code, 1000);
    EXPECT_FALSE(transport.closed(busy));
}

TEST_F(HubTest, TickClosesChannelsWhoseTokenExpired) {
    Connection* c = connect(Vsn::V2, "user-1", 10);
    joined(c, "realtime:room1", {}, "1");
    advance_ms(5000);
    hub->tick();
    EXPECT_TRUE(take(*c).empty());
    advance_ms(15000);  // now 10 s past exp
    hub->tick();
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].raw,
              R"(["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Token has expired 10 seconds ago","channel":"room1"}])");
    EXPECT_EQ(out[1].raw, R"(["1","1","realtime:room1","phx_close",{}])");
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
    EXPECT_TRUE(transport.closes.empty()) << "the channel closes, not the socket";
}

TEST_F(HubTest, ShutdownClosesEveryChannelAndSocket) {
    Connection* a = connect(Vsn::V2);
    joined(a, "realtime:room1", {}, "3");
    hub->shutdown();
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, R"(["3","3","realtime:room1","phx_close",{}])");
    ASSERT_EQ(transport.closes.size(), 1u);
    EXPECT_EQ(transport.closes[0].code, 1001);
}

// -- postgres_changes: joining -----------------------------------------------------------

TEST_F(HubTest, PostgresChangesJoinWaitsForTheDatabaseThenEchoesBindingsWithIds) {
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

TEST_F(HubTest, PostgresChangesBindingIsEchoedAsTheClientSentIt) {
    Connection* c = connect(Vsn::V2);
    pg_joined(c, "realtime:room1", R"([{"event":"insert","table":"todos","filter":null}])", {7});
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload,
              R"({"status":"ok","response":{"postgres_changes":[{"id":7,"event":"insert","table":"todos","filter":null}]}})");
    EXPECT_EQ(db.subscribes[0].bindings[0].event, "INSERT");
    EXPECT_EQ(db.subscribes[0].bindings[0].schema, "public");
}

TEST_F(HubTest, PostgresChangesJoinErrorCarriesTheDatabaseMessage) {
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

TEST_F(HubTest, PostgresChangesNeedsADatabase) {
    db.up = false;
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].payload.find("\"error\""), std::string::npos);
    EXPECT_TRUE(db.subscribes.empty());
}

TEST_F(HubTest, PostgresChangesBindingWithoutTableIsRefused) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = R"([{"event":"*","schema":"public"}])";
    auto out = join(c, "realtime:room1", o);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].payload.find("\"error\""), std::string::npos);
    EXPECT_TRUE(db.subscribes.empty());
}

TEST_F(HubTest, LeaveBeforeTheDatabaseAnswersUnsubscribesTheIds) {
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

TEST_F(HubTest, ClosingBeforeTheDatabaseAnswersUnsubscribesTheIds) {
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

TEST_F(HubTest, RejoinWhilePendingUndoesTheFirstSubscription) {
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

TEST_F(HubTest, SubscriptionCountMismatchIsAnErrorAndUndone) {
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

TEST_F(HubTest, LeavingAJoinedChannelUnsubscribesItsIds) {
    Connection* c = connect(Vsn::V2);
    pg_joined(c, "realtime:room1", "[" + kTodos + "," + kNotes + "]", {101, 102});
    take(*c);
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "phx_leave", "{}"));
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{101, 102}));
    hub->deliver_change(row({101}, 0x300, 0));
    auto out = take(*c);
    EXPECT_TRUE(with_event(out, "postgres_changes").empty());
}

// -- postgres_changes: delivery ----------------------------------------------------------

namespace {
bool has_id(const Out& o, int64_t id) {
    json::Document d;
    if (!json::parse(d, o.payload)) return false;
    const json::Value* ids = json::member(d, "ids");
    if (!ids || !ids->IsArray()) return false;
    for (const json::Value& v : ids->GetArray())
        if (v.IsInt64() && v.GetInt64() == id) return true;
    return false;
}
}  // namespace

TEST_F(HubTest, ChangesAreRoutedByIdOncePerChannel) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V1);
    Connection* c = connect(Vsn::V2);
    pg_joined(a, "realtime:room1", "[" + kTodos + "," + kNotes + "]", {101, 102});
    pg_joined(b, "realtime:room2", "[" + kTodos + "]", {201});
    pg_joined(c, "realtime:room3", "[" + kTodos + "]", {301});
    take(*a);
    take(*b);
    take(*c);

    hub->deliver_change(row({101, 102, 201}, 0x1000, 0));
    auto to_a = take(*a);
    ASSERT_EQ(to_a.size(), 1u) << "two matching bindings of one channel: one message";
    EXPECT_EQ(to_a[0].topic, "realtime:room1");
    EXPECT_EQ(to_a[0].event, "postgres_changes");
    EXPECT_TRUE(has_id(to_a[0], 101));
    EXPECT_TRUE(has_id(to_a[0], 102));
    auto to_b = take(*b);
    ASSERT_EQ(to_b.size(), 1u);
    EXPECT_EQ(to_b[0].topic, "realtime:room2");
    EXPECT_EQ(to_b[0].event, "postgres_changes");
    EXPECT_TRUE(has_id(to_b[0], 201));
    EXPECT_TRUE(take(*c).empty()) << "301 did not match";
}

TEST_F(HubTest, EachChannelSeesOnlyItsOwnIds) {
    // Supabase sends each channel its own subscription ids: another client's ids must
    // not leak, and the message must not grow with the number of subscribers.
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V1);
    pg_joined(a, "realtime:room1", "[" + kTodos + "," + kNotes + "]", {101, 102});
    pg_joined(b, "realtime:room2", "[" + kTodos + "]", {201});
    take(*a);
    take(*b);
    hub->deliver_change(row({101, 102, 201}, 0x1000, 0));
    auto to_a = take(*a);
    ASSERT_EQ(to_a.size(), 1u);
    EXPECT_EQ(ids_of(to_a[0]), "[101,102]");
    auto to_b = take(*b);
    ASSERT_EQ(to_b.size(), 1u);
    EXPECT_EQ(to_b[0].raw,
              R"({"topic":"realtime:room2","event":"postgres_changes","payload":{"ids":[201],"data":{"schema":"public","table":"todos","type":"INSERT","record":{"id":1},"errors":null}},"ref":null})");
}

TEST_F(HubTest, ChangePayloadIsSentExactly) {
    Connection* a = connect(Vsn::V2);
    pg_joined(a, "realtime:room1", "[" + kTodos + "]", {101});
    take(*a);
    std::string data = R"({"schema":"public","table":"todos","type":"UPDATE","record":{"price":1.00},"old_record":{"id":1},"errors":null})";
    hub->deliver_change(row({101}, 0x1000, 0, data));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, "[null,null,\"realtime:room1\",\"postgres_changes\"," +
                              postgres_changes_payload({101}, data) + "]");
}

TEST_F(HubTest, ChangesForUnknownIdsAreDropped) {
    Connection* a = connect(Vsn::V2);
    pg_joined(a, "realtime:room1", "[" + kTodos + "]", {101});
    take(*a);
    hub->deliver_change(row({999}, 0x1000, 0));
    EXPECT_TRUE(take(*a).empty());
}

TEST_F(HubTest, DuplicateChangesAreDroppedByPosition) {
    Connection* a = connect(Vsn::V2);
    pg_joined(a, "realtime:room1", "[" + kTodos + "]", {101});
    take(*a);
    hub->deliver_change(row({101}, 0x1000, 2));
    hub->deliver_change(row({101}, 0x1000, 2));  // replay
    hub->deliver_change(row({101}, 0x1000, 1));  // older
    hub->deliver_change(row({101}, 0x0FFF, 9));  // older commit
    EXPECT_EQ(take(*a).size(), 1u);
    hub->deliver_change(row({101}, 0x1000, 3));  // next in the same transaction
    hub->deliver_change(row({101}, 0x1001, 0));  // next transaction
    EXPECT_EQ(take(*a).size(), 2u);
    EXPECT_EQ(metrics.changes_duplicate.load(), 3u);
}

TEST_F(HubTest, SubscribedAnnouncedOnceAllBindingsAreLive) {
    Connection* a = connect(Vsn::V2);
    pg_joined(a, "realtime:room1", "[" + kTodos + "," + kNotes + "]", {101, 102}, "1");
    take(*a);
    hub->deliver_change(subscribed({101}, 0x500, 0));
    EXPECT_TRUE(take(*a).empty()) << "102 is not live yet";
    hub->deliver_change(subscribed({102}, 0x600, 0));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw,
              R"(["1",null,"realtime:room1","system",{"extension":"postgres_changes","status":"ok","message":"Subscribed to PostgreSQL","channel":"room1"}])");
    hub->deliver_change(subscribed({101, 102}, 0x700, 0));
    EXPECT_TRUE(take(*a).empty()) << "announced once";
}

TEST_F(HubTest, SubscribedBeforeTheDatabaseAnswerIsAnnouncedAfterTheReply) {
    Connection* a = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "," + kNotes + "]";
    join(a, "realtime:room1", o, "1");
    hub->deliver_change(subscribed({101, 102}, 0x500, 0));
    EXPECT_TRUE(take(*a).empty());
    hub->on_subscribe_result({db.subscribes.at(0).member_id, true, "", {101, 102}});
    auto out = take(*a);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].event, "phx_reply");
    EXPECT_EQ(out[1].event, "system");
    EXPECT_NE(out[1].payload.find("Subscribed to PostgreSQL"), std::string::npos);
}

TEST_F(HubTest, SubscribedForOneOfTwoBindingsBeforeTheAnswerWaitsForTheOther) {
    Connection* a = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "," + kNotes + "]";
    join(a, "realtime:room1", o, "1");
    hub->deliver_change(subscribed({101}, 0x500, 0));
    hub->on_subscribe_result({db.subscribes.at(0).member_id, true, "", {101, 102}});
    EXPECT_TRUE(with_event(take(*a), "system").empty());
    hub->deliver_change(subscribed({102}, 0x501, 0));
    EXPECT_EQ(with_event(take(*a), "system").size(), 1u);
}

TEST_F(HubTest, ChannelWithoutBindingsIsNeverAnnounced) {
    Connection* a = connect(Vsn::V2);
    joined(a, "realtime:room1");
    hub->deliver_change(subscribed({1}, 0x500, 0));
    EXPECT_TRUE(take(*a).empty());
}

// -- postgres_changes: resuming after a crash ------------------------------------------

namespace {
OrphanRow orphan(int64_t id, std::string table, std::string role = "authenticated", std::string sub = "user-1") {
    OrphanRow r;
    r.id = id;
    r.spec.event = "*";
    r.spec.schema = "public";
    r.spec.table = std::move(table);
    r.role = std::move(role);
    r.sub = std::move(sub);
    return r;
}
}  // namespace

TEST_F(HubTest, OrphanIsAdoptedAndHeldChangesReplayedAfterTheReply) {
    hub->adopt_orphans({orphan(55, "todos")});
    EXPECT_EQ(hub->orphan_count(), 1u);
    hub->deliver_change(row({55}, 0x2000, 1));
    hub->deliver_change(row({55}, 0x2100, 0));
    EXPECT_EQ(hub->held_floor(), 0x2000u);

    Connection* c = connect(Vsn::V2, "user-1");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    auto out = join(c, "realtime:room1", o, "1");
    EXPECT_TRUE(db.subscribes.empty()) << "adopted, not subscribed again";
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].event, "phx_reply");
    EXPECT_EQ(out[0].payload,
              R"({"status":"ok","response":{"postgres_changes":[{"id":55,"event":"*","schema":"public","table":"todos"}]}})");
    EXPECT_EQ(out[1].event, "system");
    EXPECT_NE(out[1].payload.find("Subscribed to PostgreSQL"), std::string::npos);
    EXPECT_EQ(out[2].event, "postgres_changes");
    EXPECT_EQ(out[3].event, "postgres_changes");
    EXPECT_EQ(ids_of(out[2]), "[55]");
    EXPECT_EQ(hub->orphan_count(), 0u);
    EXPECT_EQ(hub->held_floor(), 0u);

    // Later changes go straight to it.
    hub->deliver_change(row({55}, 0x2200, 0));
    EXPECT_EQ(with_event(take(*c), "postgres_changes").size(), 1u);
    // Its grace period passing changes nothing for an adopted id.
    advance_ms(cfg.resume_grace_s * 1000 + 1);
    hub->tick();
    EXPECT_TRUE(db.unsubscribes.empty());
}

TEST_F(HubTest, OrphanWithAnotherSubIsNotAdopted) {
    hub->adopt_orphans({orphan(55, "todos", "authenticated", "user-1")});
    Connection* c = connect(Vsn::V2, "user-2");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    auto out = join(c, "realtime:room1", o, "1");
    EXPECT_TRUE(out.empty()) << "waits for its own subscription";
    ASSERT_EQ(db.subscribes.size(), 1u);
    EXPECT_EQ(hub->orphan_count(), 1u);
}

TEST_F(HubTest, OrphanWithAnotherRoleOrBindingIsNotAdopted) {
    hub->adopt_orphans({orphan(55, "todos", "service_role", "user-1"), orphan(56, "other", "authenticated", "user-1")});
    Connection* c = connect(Vsn::V2, "user-1");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    join(c, "realtime:room1", o, "1");
    EXPECT_EQ(db.subscribes.size(), 1u);
    EXPECT_EQ(hub->orphan_count(), 2u);
}

TEST_F(HubTest, OrphansNotAdoptedWithinTheGraceAreUnsubscribed) {
    hub->adopt_orphans({orphan(55, "todos"), orphan(56, "notes")});
    hub->deliver_change(row({56}, 0x3000, 0));
    EXPECT_EQ(hub->held_floor(), 0x3000u);
    advance_ms(cfg.resume_grace_s * 1000 - 1);
    hub->tick();
    EXPECT_TRUE(db.unsubscribes.empty());
    EXPECT_EQ(hub->orphan_count(), 2u);
    advance_ms(2);
    hub->tick();
    std::vector<int64_t> gone = db.unsubscribed_ids();
    std::sort(gone.begin(), gone.end());
    EXPECT_EQ(gone, (std::vector<int64_t>{55, 56}));
    EXPECT_EQ(hub->orphan_count(), 0u);
    EXPECT_EQ(hub->held_floor(), 0u);
}

TEST_F(HubTest, HeldFloorIsTheLowestHeldChange) {
    hub->adopt_orphans({orphan(55, "todos"), orphan(56, "notes", "authenticated", "user-2")});
    EXPECT_EQ(hub->held_floor(), 0u);
    hub->deliver_change(row({56}, 0x4000, 0));
    hub->deliver_change(row({55}, 0x4100, 0));
    EXPECT_EQ(hub->held_floor(), 0x4000u);
    // Adopting 56 releases its hold; 55's remains.
    Connection* c = connect(Vsn::V2, "user-2");
    JoinOpts o;
    o.postgres_changes = R"([{"event":"*","schema":"public","table":"notes"}])";
    join(c, "realtime:room2", o, "1");
    EXPECT_EQ(hub->orphan_count(), 1u);
    EXPECT_EQ(hub->held_floor(), 0x4100u);
}

TEST_F(HubTest, AdoptedReplayOfAChangeMatchingTwoIdsIsSentOnce) {
    OrphanRow notes = orphan(56, "notes");
    notes.spec.event = "INSERT";
    notes.spec.filter = "id=eq.1";
    hub->adopt_orphans({orphan(55, "todos"), notes});
    hub->deliver_change(row({55, 56}, 0x5000, 0));
    Connection* c = connect(Vsn::V2, "user-1");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "," + kNotes + "]";
    auto out = with_event(join(c, "realtime:room1", o, "1"), "postgres_changes");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(ids_of(out[0]), "[55,56]");
}

TEST_F(HubTest, JoinOfANewChannelIsAnsweredOnceTheClusterRoutesIt) {
    cluster.auto_route = false;
    Connection* a = connect(Vsn::V2);
    EXPECT_TRUE(join(a, "realtime:room1").empty()) << "the reply waits for the peers";
    Connection* b = connect(Vsn::V2, "user-2");
    EXPECT_TRUE(join(b, "realtime:room1").empty()) << "a second join waits as well";
    EXPECT_EQ(cluster.interest.size(), 1u);

    hub->on_channel_routed("realtime:room1");
    auto fa = take(*a);
    auto fb = take(*b);
    ASSERT_FALSE(fa.empty());
    EXPECT_EQ(fa[0].event, "phx_reply");
    ASSERT_FALSE(fb.empty());
    EXPECT_EQ(fb[0].event, "phx_reply");

    Connection* c = connect(Vsn::V1, "user-3");
    joined(c, "realtime:room1");  // a routed channel answers at once
    EXPECT_EQ(cluster.interest.size(), 1u);
}

TEST_F(HubTest, LeavingBeforeTheRouteIsConfirmedReleasesTheChannel) {
    cluster.auto_route = false;
    Connection* a = connect(Vsn::V2);
    join(a, "realtime:room1");
    hub->closed(*a);
    ASSERT_EQ(cluster.interest.size(), 2u);
    EXPECT_EQ(cluster.interest[1], (std::pair<std::string, bool>{"realtime:room1", false}));
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
    hub->on_channel_routed("realtime:room1");  // a late confirmation is harmless
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
}


TEST_F(HubTest, ChannelsWhoseRowsWereRemovedAreToldToRejoin) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V2, "user-2");
    pg_joined(a, "realtime:db1", R"([{"event":"*","schema":"public","table":"todos"}])", {5});
    pg_joined(b, "realtime:db2", R"([{"event":"*","schema":"public","table":"todos"}])", {6});
    take(*a);
    take(*b);

    hub->drop_lost_subscriptions({6});  // 5 is gone, 6 survived
    auto fa = take(*a);
    ASSERT_EQ(fa.size(), 2u);
    EXPECT_EQ(fa[0].event, "system");
    EXPECT_EQ(fa[1].event, "phx_error");
    EXPECT_EQ(fa[1].join_ref, std::optional<std::string>("1"));
    EXPECT_TRUE(take(*b).empty());
    EXPECT_EQ(a->member("realtime:db1"), nullptr);
    ASSERT_NE(b->member("realtime:db2"), nullptr);
}
