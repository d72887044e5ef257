// relay/hub/hub: connections, the dispatch of client messages, leaving, limits, slow clients,
// the tick and the drain at shutdown.
#include "hub_fixture.h"

using namespace rt;
using namespace rt::testing;

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

TEST_F(HubTest, MessageOnATopicNotJoinedIsUnmatchedTopic) {
    Connection* c = connect(Vsn::V2);
    broadcast(c, "realtime:nowhere", "e", "{}", "5");
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ref, std::optional<std::string>("5"));
    EXPECT_EQ(out[0].payload, R"({"status":"error","response":{"reason":"unmatched topic"}})");
    EXPECT_TRUE(cluster.broadcasts.empty());
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

TEST_F(HubTest, DrainClosesSocketsWith1012AndNoChannelMessage) {
    Connection* a = connect(Vsn::V2);
    joined(a, "realtime:room1", {}, "3");
    Connection* b = connect(Vsn::V1);
    pg_joined(b, "realtime:rows", "[" + kTodos + "]", {41});
    take(*b);
    hub->begin_drain();
    EXPECT_EQ(hub->drain(1), 1u);  // one closed, one left for the next batch
    EXPECT_EQ(hub->drain(10), 0u);
    EXPECT_TRUE(take(*a).empty());  // no phx_close: realtime-js would drop the channel for good
    EXPECT_TRUE(take(*b).empty());
    ASSERT_EQ(transport.closes.size(), 2u);
    EXPECT_EQ(transport.closes[0].code, 1012);
    EXPECT_EQ(transport.closes[1].code, 1012);
    hub->closed(*a);
    hub->closed(*b);
    EXPECT_TRUE(db.unsubscribed_ids().empty());  // kept for the clients to resume, as after a crash
}

TEST_F(HubTest, JoinsWhileDrainingAreRefusedWithRealtimeRestarting) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V2);
    hub->begin_drain();
    hub->drain(1);  // closes one of them; the other waits for the next batch
    Connection* open = transport.closed(a) ? b : a;
    auto out = join(open, "realtime:room1");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload,
              R"({"status":"error","response":{"reason":"RealtimeRestarting: Realtime is restarting, please standby"}})");
}
