// relay/slot/router: plugin documents to this node's loop, to peers, and SQL broadcasts to both.
#include <gtest/gtest.h>

#include "fakes.h"
#include "relay/slot/router.h"

using namespace rt;
using namespace rt::testing;

namespace {

class FakePeers : public SlotPeers {
public:
    bool change(const std::string& node, const ChangeEvent& ev) override {
        changes.emplace_back(node, ev);
        return reachable;
    }
    void broadcast(const BroadcastMsg& msg) override { broadcasts.push_back(msg); }
    bool reachable = true;
    std::vector<std::pair<std::string, ChangeEvent>> changes;
    std::vector<BroadcastMsg> broadcasts;
};

PluginDoc row_doc() {
    PluginDoc d;
    d.type = PluginDoc::Type::Row;
    d.pos = {0x500, 2};
    d.targets = {{"node-a", {1, 2}}, {"node-b", {7}}};
    d.data_json = R"({"type":"INSERT"})";
    return d;
}

struct RouterTest : ::testing::Test {
    Metrics metrics;
    RecordingInbound loop;
    FakePeers peers;
    AckTracker ack;
    SlotRouter router{"node-a", metrics, loop, &peers, ack};
};

}  // namespace

TEST_F(RouterTest, ARowGoesToEachTargetNodeWithItsOwnIds) {
    router.route(row_doc(), 42);
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    const ChangeEvent& local = loop.slot_changes[0];
    EXPECT_EQ(local.kind, ChangeEvent::Kind::Row);
    EXPECT_EQ(local.ids, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(local.payload, R"({"ids":[1,2],"data":{"type":"INSERT"}})");
    EXPECT_EQ(local.received_us, 42);
    EXPECT_EQ(local.pos.commit_lsn, 0x500u);
    ASSERT_EQ(peers.changes.size(), 1u);
    EXPECT_EQ(peers.changes[0].first, "node-b");
    EXPECT_EQ(peers.changes[0].second.payload, R"({"ids":[7],"data":{"type":"INSERT"}})");
    EXPECT_EQ(metrics.dropped_messages.load(), 0u);
}

TEST_F(RouterTest, WhatGoesToTheLoopIsAcknowledgedOnlyOnceProcessed) {
    loop.process_slot = false;
    ack.reached(0x500, 0);
    router.route(row_doc(), 0);
    EXPECT_EQ(ack.position(1000), 0u);
    ack.processed(0x500, 0);
    EXPECT_EQ(ack.position(1000), 0x500u);
}

TEST_F(RouterTest, AnUnreachablePeerOrNoClusterIsCountedAsDropped) {
    peers.reachable = false;
    router.route(row_doc(), 0);
    EXPECT_EQ(metrics.dropped_messages.load(), 1u);
    SlotRouter alone{"node-a", metrics, loop, nullptr, ack};
    alone.route(row_doc(), 0);
    EXPECT_EQ(metrics.dropped_messages.load(), 2u);
    EXPECT_EQ(loop.slot_changes.size(), 2u) << "this node's part is delivered either way";
}

TEST_F(RouterTest, SubscribedHasNoPayload) {
    PluginDoc d = row_doc();
    d.type = PluginDoc::Type::Subscribed;
    router.route(std::move(d), 0);
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    EXPECT_EQ(loop.slot_changes[0].kind, ChangeEvent::Kind::Subscribed);
    EXPECT_TRUE(loop.slot_changes[0].payload.empty());
}

TEST_F(RouterTest, ASqlBroadcastGoesToPeersAndTheLoop) {
    PluginDoc d;
    d.type = PluginDoc::Type::Broadcast;
    d.pos = {0x600, 0};
    d.broadcast.topic = "realtime:room";
    d.broadcast.event = "ev";
    d.broadcast.pos = d.pos;
    router.route(std::move(d), 0);
    ASSERT_EQ(peers.broadcasts.size(), 1u);
    EXPECT_EQ(peers.broadcasts[0].topic, "realtime:room");
    ASSERT_EQ(loop.slot_broadcasts.size(), 1u);
    EXPECT_EQ(loop.slot_broadcasts[0].pos.commit_lsn, 0x600u);
}
