// relay/hub/channels: membership, the cluster routing of a channel, and the one broadcast path
// (client pushes, the REST API, the slot, peers) with its fan-out per protocol version.
#include "hub_fixture.h"
#include "relay/core/clock.h"

using namespace rt;
using namespace rt::testing;

using ChannelsTest = HubTest;

TEST_F(ChannelsTest, BroadcastFansOutToV1AndV2WithoutSelfAndAcks) {
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

TEST_F(ChannelsTest, BroadcastSelfTrueReachesTheSenderWithoutAckReply) {
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

TEST_F(ChannelsTest, MemberLeavingTheMiddleOfAChannelKeepsTheOthersReachable) {
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

TEST_F(ChannelsTest, BroadcastOnlyReachesItsChannel) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V2);
    joined(a, "realtime:room1");
    joined(b, "realtime:room10");
    broadcast(a, "realtime:room1", "e", "{}");
    EXPECT_TRUE(take(*b).empty());
}

TEST_F(ChannelsTest, BroadcastWithoutEventIsAnError) {
    Connection* a = connect(Vsn::V2);
    joined(a, "realtime:room1");
    send(a, msg(Vsn::V2, "1", "3", "realtime:room1", "broadcast", R"({"type":"broadcast","payload":{}})"));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].payload.find("\"error\""), std::string::npos);
    EXPECT_TRUE(cluster.broadcasts.empty());
}

TEST_F(ChannelsTest, BinaryBroadcastGoesAsKind4ToV2AndJsonToV1) {
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

TEST_F(ChannelsTest, RawBinaryPayloadSkipsV1Members) {
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

TEST_F(ChannelsTest, BinaryBroadcastWithAckGetsTextReply) {
    Connection* a = connect(Vsn::V2);
    JoinOpts ack;
    ack.ack = true;
    joined(a, "realtime:room1", ack, "1");
    send_binary(a, kind3("1", "9", "realtime:room1", "e", "", 1, "{}"));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, R"(["1","9","realtime:room1","phx_reply",{"status":"ok","response":{}}])");
}

TEST_F(ChannelsTest, DeliveredBroadcastCarriesMeta) {
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

TEST_F(ChannelsTest, DeliveredBroadcastsFromTheSlotAreDeduplicated) {
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

TEST_F(ChannelsTest, JoinOfANewChannelIsAnsweredOnceTheClusterRoutesIt) {
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

TEST_F(ChannelsTest, LeavingBeforeTheRouteIsConfirmedReleasesTheChannel) {
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

TEST_F(ChannelsTest, PayloadNumbersAndStringsLeaveAsTheyCame) {
    Connection* a = connect(Vsn::V1);
    Connection* b = connect(Vsn::V2);
    joined(a, "realtime:room1");
    joined(b, "realtime:room1");
    const char* tricky = R"({"t":1814.7000000029802,"big":123456789012345678901234567890,"e":1E+2,"z":-0.0,"u":"\u00e9"})";
    send(a, R"({"topic":"realtime:room1","event":"broadcast","payload":{"type":"broadcast","event":"e","payload":)" +
                std::string(tricky) + R"(},"ref":"2","join_ref":"1"})");
    auto out = take(*b);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, R"([null,null,"realtime:room1","broadcast",{"type":"broadcast","event":"e","payload":)" +
                              std::string(tricky) + "}]");
    // Pretty-printed input loses only its whitespace.
    send(b, R"(["1","3","realtime:room1","broadcast",{"type":"broadcast","event":"e","payload": { "a" : [ 1.50 , "x y" ] }}])");
    auto pretty = take(*a);
    ASSERT_EQ(pretty.size(), 1u);
    EXPECT_NE(pretty[0].raw.find(R"("payload":{"a":[1.50,"x y"]})"), std::string::npos) << pretty[0].raw;
}

TEST_F(ChannelsTest, AKind3PushsMetadataIsNotPassedOn) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V2);
    joined(a, "realtime:room1");
    joined(b, "realtime:room1");
    std::string meta = R"({"id":"forged","replayed":true})";
    std::string topic = "realtime:room1";
    std::string push = std::string(1, '\x03') + '\x01' + '\x01' + static_cast<char>(topic.size()) + '\x02' +
                       static_cast<char>(meta.size()) + '\x01' + "1" + "2" + topic + "ev" + meta + R"({"k":"v"})";
    send_binary(a, push);
    auto out = take(*b);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(static_cast<uint8_t>(out[0].raw[0]), 4u);
    EXPECT_EQ(static_cast<uint8_t>(out[0].raw[3]), 0u) << "no metadata";
    EXPECT_EQ(out[0].raw.find("forged"), std::string::npos);
}

TEST_F(ChannelsTest, APayloadOverTheLimitIsDroppedAndTheSocketStays) {
    cfg.limits.max_payload_bytes = 1024;
    make_hub();
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V2);
    JoinOpts ack;
    ack.ack = true;
    joined(a, "realtime:room1", ack);
    joined(b, "realtime:room1");
    broadcast(a, "realtime:room1", "big", "{\"x\":\"" + std::string(2000, 'a') + "\"}", "7");
    auto to_a = take(*a);
    ASSERT_EQ(to_a.size(), 1u);
    EXPECT_EQ(to_a[0].raw, R"(["1","7","realtime:room1","phx_reply",{"status":"error","response":"payload_size_exceeded"}])");
    EXPECT_TRUE(take(*b).empty());
    EXPECT_TRUE(transport.closes.empty());
    broadcast(a, "realtime:room1", "small", "{}", "8");
    EXPECT_EQ(take(*b).size(), 1u);
}

TEST_F(ChannelsTest, APeersBroadcastSentBeforeAMemberJoinedIsNotForIt) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V1);
    joined(a, "realtime:room1");
    joined(b, "realtime:room1");
    BroadcastMsg msg;
    msg.topic = "realtime:room1";
    msg.event = "old";
    msg.payload = "{}";
    msg.sent_ms = wall() * 1000 - 60000;  // sent before both joined, delivered late (a healed partition)
    hub->deliver_broadcast(msg);
    EXPECT_TRUE(take(*a).empty());
    EXPECT_TRUE(take(*b).empty());
    msg.sent_ms = wall() * 1000 + 1000;  // sent after they joined
    hub->deliver_broadcast(msg);
    EXPECT_EQ(take(*a).size(), 1u);
    EXPECT_EQ(take(*b).size(), 1u);
    msg.sent_ms = 0;  // not through the mesh (the slot, this node)
    hub->deliver_broadcast(msg);
    EXPECT_EQ(take(*a).size(), 1u);
}
