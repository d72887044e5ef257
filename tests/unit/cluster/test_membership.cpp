// cluster/membership: liveness, incarnations, presence replication, stream gaps and the
// facts the slot election reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "cluster/membership.h"

using namespace rt;
using namespace rt::cluster;

namespace {

constexpr int kDownMs = 3000;
constexpr int64_t kT0 = 1'000'000;

Header hdr(std::string node, uint64_t incarnation, uint64_t seq = 0, MsgType type = MsgType::Heartbeat) {
    return Header{type, std::move(node), incarnation, seq};
}

PresenceDelta delta(std::string key) {
    PresenceDelta d;
    d.topic = "realtime:room";
    d.entry.key = std::move(key);
    d.entry.phx_ref = "ref-" + d.entry.key;
    return d;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<std::string> delta_keys(const Actions& a, const std::string& node) {
    std::vector<std::string> keys;
    for (const auto& [n, d] : a.deltas)
        if (n == node) keys.push_back(d.entry.key);
    return keys;
}

class MembershipTest : public ::testing::Test {
protected:
    Membership m{"self", kDownMs};
    int64_t now = kT0;

    // A message from node; returns its actions.
    Actions hear(const std::string& node, uint64_t inc = 1) {
        Actions a;
        EXPECT_TRUE(m.on_message(hdr(node, inc), now, a));
        return a;
    }

    // A peer heard from and synced with an empty snapshot at presence_seq seq.
    void synced(const std::string& node, uint64_t seq = 0, uint64_t inc = 1) {
        hear(node, inc);
        Actions a;
        PresenceSnapshot s;
        s.presence_seq = seq;
        m.on_snapshot(hdr(node, inc, 1, MsgType::Snapshot), s, now, a);
    }

    Actions delta_from(const std::string& node, uint64_t seq, const std::string& key, uint64_t inc = 1) {
        Actions a;
        Header h = hdr(node, inc, seq, MsgType::PresenceDelta);
        EXPECT_TRUE(m.on_message(h, now, a));
        m.on_presence_delta(h, delta(key), now, a);
        return a;
    }

    Actions heartbeat(const std::string& node, Heartbeat hb, uint64_t inc = 1) {
        Actions a;
        Header h = hdr(node, inc);
        EXPECT_TRUE(m.on_message(h, now, a));
        m.on_heartbeat(h, hb, now, a);
        return a;
    }

    Actions tick() {
        Actions a;
        m.tick(now, a);
        return a;
    }

    const Peer& peer(const std::string& node) { return m.peers().at(node); }
};

}  // namespace

// -- liveness ----------------------------------------------------------------------------

TEST_F(MembershipTest, PeerIsUpOnItsFirstMessageAndAskedForASnapshot) {
    Actions a = hear("b");
    EXPECT_EQ(peer("b").state, PeerState::Up);
    EXPECT_EQ(m.up_count(), 1u);
    EXPECT_EQ(a.request_snapshot, (std::vector<std::string>{"b"}));
    EXPECT_TRUE(a.forget_presence.empty());
    EXPECT_FALSE(a.log.empty());
}

TEST_F(MembershipTest, OwnMessagesAreIgnored) {
    Actions a;
    EXPECT_FALSE(m.on_message(hdr("self", 1), now, a));
    EXPECT_TRUE(m.peers().empty());
    EXPECT_TRUE(a.request_snapshot.empty());
}

TEST_F(MembershipTest, LaterMessagesDoNotAskAgain) {
    hear("b");
    Actions a = hear("b");
    EXPECT_TRUE(a.request_snapshot.empty());
    EXPECT_TRUE(a.log.empty());
}

TEST_F(MembershipTest, PeerGoesDownAfterTheDownPeriodAndItsPresenceIsForgotten) {
    hear("b");
    now += kDownMs;
    Actions still = tick();
    EXPECT_EQ(peer("b").state, PeerState::Up);
    EXPECT_TRUE(still.forget_presence.empty());
    now += 1;
    Actions a = tick();
    EXPECT_EQ(peer("b").state, PeerState::Down);
    EXPECT_EQ(a.forget_presence, (std::vector<std::string>{"b"}));
    EXPECT_EQ(m.up_count(), 0u);
    // Only once.
    now += 10'000;
    EXPECT_TRUE(tick().forget_presence.empty());
}

TEST_F(MembershipTest, MessagesKeepAPeerUp) {
    hear("b");
    for (int i = 0; i < 10; ++i) {
        now += kDownMs - 1;
        hear("b");
        EXPECT_TRUE(tick().forget_presence.empty());
    }
    EXPECT_EQ(peer("b").state, PeerState::Up);
}

TEST_F(MembershipTest, PeerBackAfterDownIsUpAndAskedForASnapshot) {
    synced("b");
    now += kDownMs + 1;
    tick();
    now += 5000;
    Actions a = hear("b");
    EXPECT_EQ(peer("b").state, PeerState::Up);
    EXPECT_TRUE(contains(a.request_snapshot, "b"));
    EXPECT_FALSE(peer("b").presence_synced);
}

TEST_F(MembershipTest, NewIncarnationForgetsPresenceAndAsksForASnapshot) {
    synced("b", 5, 1);
    now += 100;
    Actions a = hear("b", 2);
    EXPECT_EQ(a.forget_presence, (std::vector<std::string>{"b"}));
    EXPECT_TRUE(contains(a.request_snapshot, "b"));
    EXPECT_EQ(peer("b").incarnation, 2u);
    EXPECT_EQ(peer("b").state, PeerState::Up);
    EXPECT_FALSE(peer("b").presence_synced);
    EXPECT_EQ(peer("b").presence_seq, 0u);
}

TEST_F(MembershipTest, NewIncarnationResetsStreamSequences) {
    hear("b", 1);
    m.node_stream_gap(hdr("b", 1, 100, MsgType::Change));
    m.broadcast_gap(hdr("b", 1, 50, MsgType::Broadcast), "realtime:r");
    hear("b", 2);
    // The restarted node counts from 1 again: no gap, and 1 is not "old".
    EXPECT_EQ(m.node_stream_gap(hdr("b", 2, 1, MsgType::Change)), 0u);
    EXPECT_EQ(m.node_stream_gap(hdr("b", 2, 3, MsgType::Change)), 1u);
    EXPECT_EQ(m.broadcast_gap(hdr("b", 2, 1, MsgType::Broadcast), "realtime:r"), 0u);
    EXPECT_EQ(m.broadcast_gap(hdr("b", 2, 2, MsgType::Broadcast), "realtime:r"), 0u);
}

// -- presence replication ----------------------------------------------------------------

TEST_F(MembershipTest, DeltasBeforeTheFirstSnapshotAreBufferedThenApplied) {
    hear("b");
    Actions a = delta_from("b", 1, "k1");
    EXPECT_TRUE(a.deltas.empty());
    a = delta_from("b", 2, "k2");
    EXPECT_TRUE(a.deltas.empty());
    Actions s;
    PresenceSnapshot snap;
    snap.presence_seq = 1;
    m.on_snapshot(hdr("b", 1, 1, MsgType::Snapshot), snap, now, s);
    ASSERT_EQ(s.snapshots.size(), 1u);
    EXPECT_EQ(s.snapshots[0].first, "b");
    EXPECT_EQ(s.snapshots[0].second.presence_seq, 1u);
    EXPECT_EQ(delta_keys(s, "b"), (std::vector<std::string>{"k2"})) << "k1 is in the snapshot already";
    EXPECT_TRUE(peer("b").presence_synced);
    EXPECT_EQ(peer("b").presence_seq, 2u);
}

TEST_F(MembershipTest, DeltasInOrderAreApplied) {
    synced("b", 0);
    EXPECT_EQ(delta_keys(delta_from("b", 1, "k1"), "b"), (std::vector<std::string>{"k1"}));
    EXPECT_EQ(delta_keys(delta_from("b", 2, "k2"), "b"), (std::vector<std::string>{"k2"}));
    EXPECT_EQ(peer("b").presence_seq, 2u);
}

TEST_F(MembershipTest, DuplicateDeltaIsIgnored) {
    synced("b", 0);
    delta_from("b", 1, "k1");
    Actions a = delta_from("b", 1, "k1");
    EXPECT_TRUE(a.deltas.empty());
    EXPECT_TRUE(a.request_snapshot.empty());
    EXPECT_TRUE(peer("b").presence_synced);
}

TEST_F(MembershipTest, GapAsksForASnapshotAndBuffers) {
    synced("b", 0);
    delta_from("b", 1, "k1");
    now += 1000;
    Actions a = delta_from("b", 3, "k3");
    EXPECT_TRUE(a.deltas.empty());
    EXPECT_EQ(a.request_snapshot, (std::vector<std::string>{"b"}));
    EXPECT_FALSE(peer("b").presence_synced);
    a = delta_from("b", 4, "k4");
    EXPECT_TRUE(a.deltas.empty()) << "buffered until the snapshot";
    ASSERT_EQ(peer("b").pending.size(), 2u);
}

TEST_F(MembershipTest, SnapshotThenBufferedNewerDeltasInSequenceOrder) {
    synced("b", 0);
    now += 1000;
    delta_from("b", 3, "k3");  // gap: 1 and 2 lost
    delta_from("b", 5, "k5");
    delta_from("b", 4, "k4");  // out of order in the buffer
    delta_from("b", 2, "k2");  // older than the snapshot below
    Actions s;
    PresenceSnapshot snap;
    snap.presence_seq = 2;
    m.on_snapshot(hdr("b", 1, 9, MsgType::Snapshot), snap, now, s);
    ASSERT_EQ(s.snapshots.size(), 1u);
    EXPECT_EQ(delta_keys(s, "b"), (std::vector<std::string>{"k3", "k4", "k5"}));
    EXPECT_TRUE(peer("b").presence_synced);
    EXPECT_EQ(peer("b").presence_seq, 5u);
    EXPECT_TRUE(peer("b").pending.empty());
    // Then live deltas continue from there.
    EXPECT_EQ(delta_keys(delta_from("b", 6, "k6"), "b"), (std::vector<std::string>{"k6"}));
}

TEST_F(MembershipTest, SnapshotFollowedByAGapInTheBufferAsksAgain) {
    synced("b", 0);
    now += 1000;
    delta_from("b", 2, "k2");  // gap
    delta_from("b", 5, "k5");
    now += 1000;
    Actions s;
    PresenceSnapshot snap;
    snap.presence_seq = 2;
    m.on_snapshot(hdr("b", 1, 9, MsgType::Snapshot), snap, now, s);
    EXPECT_TRUE(delta_keys(s, "b").empty()) << "5 does not follow 2";
    EXPECT_TRUE(contains(s.request_snapshot, "b"));
    EXPECT_FALSE(peer("b").presence_synced);
}

TEST_F(MembershipTest, HeartbeatWithAHigherPresenceSeqAsksForASnapshot) {
    synced("b", 0);
    delta_from("b", 1, "k1");
    now += 1000;
    Actions same = heartbeat("b", Heartbeat{"", "", 1, false, false});
    EXPECT_TRUE(same.request_snapshot.empty());
    EXPECT_TRUE(peer("b").presence_synced);
    now += 1000;
    Actions behind = heartbeat("b", Heartbeat{"", "", 3, false, false});
    EXPECT_EQ(behind.request_snapshot, (std::vector<std::string>{"b"}));
    EXPECT_FALSE(peer("b").presence_synced);
}

TEST_F(MembershipTest, UnansweredSnapshotRequestIsRepeatedByTick) {
    hear("b");  // asks once
    now += 400;
    EXPECT_TRUE(tick().request_snapshot.empty());
    now += 700;
    EXPECT_EQ(tick().request_snapshot, (std::vector<std::string>{"b"}));
    hear("b");
    Actions s;
    m.on_snapshot(hdr("b", 1, 1, MsgType::Snapshot), PresenceSnapshot{}, now, s);
    now += 2000;
    hear("b");
    EXPECT_TRUE(tick().request_snapshot.empty()) << "synced: nothing to ask";
}

TEST_F(MembershipTest, DownPeerDropsItsBufferedDeltas) {
    hear("b");
    delta_from("b", 1, "k1");
    EXPECT_EQ(peer("b").pending.size(), 1u);
    now += kDownMs + 1;
    tick();
    EXPECT_TRUE(peer("b").pending.empty());
}

// -- stream gaps -------------------------------------------------------------------------

TEST_F(MembershipTest, NodeStreamGapCountsLostMessages) {
    hear("b");
    EXPECT_EQ(m.node_stream_gap(hdr("b", 1, 1, MsgType::Change)), 0u);
    EXPECT_EQ(m.node_stream_gap(hdr("b", 1, 2, MsgType::Change)), 0u);
    EXPECT_EQ(m.node_stream_gap(hdr("b", 1, 5, MsgType::Change)), 2u);
    EXPECT_EQ(m.node_stream_gap(hdr("b", 1, 4, MsgType::Change)), 0u) << "late, not lost";
    EXPECT_EQ(m.node_stream_gap(hdr("b", 1, 6, MsgType::Change)), 0u);
    EXPECT_EQ(m.node_stream_gap(hdr("b", 1, 16, MsgType::Change)), 9u);
}

TEST_F(MembershipTest, FirstMessageOfAStreamIsNeverAGap) {
    hear("b");
    EXPECT_EQ(m.node_stream_gap(hdr("b", 1, 1000, MsgType::Change)), 0u);
    EXPECT_EQ(m.broadcast_gap(hdr("b", 1, 1000, MsgType::Broadcast), "realtime:r"), 0u);
}

TEST_F(MembershipTest, BroadcastGapsArePerTopicAndPerNode) {
    hear("b");
    hear("c");
    EXPECT_EQ(m.broadcast_gap(hdr("b", 1, 1, MsgType::Broadcast), "realtime:x"), 0u);
    EXPECT_EQ(m.broadcast_gap(hdr("b", 1, 1, MsgType::Broadcast), "realtime:y"), 0u);
    EXPECT_EQ(m.broadcast_gap(hdr("c", 1, 1, MsgType::Broadcast), "realtime:x"), 0u);
    EXPECT_EQ(m.broadcast_gap(hdr("b", 1, 4, MsgType::Broadcast), "realtime:x"), 2u);
    EXPECT_EQ(m.broadcast_gap(hdr("b", 1, 2, MsgType::Broadcast), "realtime:y"), 0u);
    EXPECT_EQ(m.broadcast_gap(hdr("c", 1, 2, MsgType::Broadcast), "realtime:x"), 0u);
}

TEST_F(MembershipTest, ForgottenBroadcastSequenceRestarts) {
    hear("b");
    EXPECT_EQ(m.broadcast_gap(hdr("b", 1, 3, MsgType::Broadcast), "realtime:x"), 0u);
    EXPECT_EQ(m.broadcast_gap(hdr("b", 1, 3, MsgType::Broadcast), "realtime:y"), 0u);
    m.forget_broadcast_seq("realtime:x");
    // Published while we were not subscribed: not lost.
    EXPECT_EQ(m.broadcast_gap(hdr("b", 1, 40, MsgType::Broadcast), "realtime:x"), 0u);
    EXPECT_EQ(m.broadcast_gap(hdr("b", 1, 42, MsgType::Broadcast), "realtime:x"), 1u);
    EXPECT_EQ(m.broadcast_gap(hdr("b", 1, 40, MsgType::Broadcast), "realtime:y"), 36u) << "other topics keep counting";
}

// -- heartbeats and election facts -------------------------------------------------------

TEST_F(MembershipTest, HeartbeatEndpointIsConnectedOnce) {
    Actions a = heartbeat("b", Heartbeat{"tcp://10.0.0.2:5800", "eu", 0, true, false});
    EXPECT_EQ(a.connect, (std::vector<std::string>{"tcp://10.0.0.2:5800"}));
    EXPECT_EQ(peer("b").endpoint, "tcp://10.0.0.2:5800");
    EXPECT_EQ(peer("b").region, "eu");
    EXPECT_TRUE(peer("b").competes);
    Actions again = heartbeat("b", Heartbeat{"tcp://10.0.0.2:5800", "eu", 0, true, false});
    EXPECT_TRUE(again.connect.empty());
    Actions flag;
    m.add_endpoint("tcp://10.0.0.2:5800", flag);
    EXPECT_TRUE(flag.connect.empty()) << "known endpoints are not connected twice";
    m.add_endpoint("tcp://10.0.0.3:5800", flag);
    EXPECT_EQ(flag.connect, (std::vector<std::string>{"tcp://10.0.0.3:5800"}));
    Actions empty;
    m.add_endpoint("", empty);
    EXPECT_TRUE(empty.connect.empty());
}

TEST_F(MembershipTest, LastSlotHolderInRegion) {
    EXPECT_EQ(m.last_slot_holder_in("eu"), 0);
    heartbeat("b", Heartbeat{"", "eu", 0, true, false});
    EXPECT_EQ(m.last_slot_holder_in("eu"), 0) << "competing is not holding";
    now += 100;
    heartbeat("b", Heartbeat{"", "eu", 0, true, true});
    EXPECT_EQ(m.last_slot_holder_in("eu"), now);
    EXPECT_EQ(m.last_slot_holder_in("us"), 0);
    int64_t held_at = now;
    now += 500;
    heartbeat("b", Heartbeat{"", "eu", 0, true, false});
    EXPECT_EQ(m.last_slot_holder_in("eu"), held_at) << "the last time it said so";
    now += 100;
    heartbeat("c", Heartbeat{"", "eu", 0, true, true});
    EXPECT_EQ(m.last_slot_holder_in("eu"), now) << "the most recent of the region's peers";
}

TEST_F(MembershipTest, DownPeerIsNoLongerSlotHolder) {
    heartbeat("b", Heartbeat{"", "eu", 0, true, true});
    EXPECT_TRUE(peer("b").slot_holder);
    now += kDownMs + 1;
    tick();
    EXPECT_FALSE(peer("b").slot_holder);
}

TEST_F(MembershipTest, CompetitorUpInRegion) {
    EXPECT_FALSE(m.competitor_up_in("eu"));
    heartbeat("b", Heartbeat{"", "eu", 0, false, false});
    EXPECT_FALSE(m.competitor_up_in("eu")) << "--no-replication relays do not compete";
    heartbeat("c", Heartbeat{"", "eu", 0, true, false});
    EXPECT_TRUE(m.competitor_up_in("eu"));
    EXPECT_FALSE(m.competitor_up_in("us"));
    now += kDownMs + 1;
    hear("b");  // b stays up, c goes silent
    tick();
    EXPECT_FALSE(m.competitor_up_in("eu"));
}

// -- views ------------------------------------------------------------------------------

TEST_F(MembershipTest, UpPeersAndTheirJson) {
    Heartbeat hb;
    hb.endpoint = "tcp://b:1";
    hb.region = "eu";
    hb.slot_holder = true;
    heartbeat("b", hb);
    EXPECT_TRUE(m.is_up("b"));
    EXPECT_FALSE(m.is_up("nobody"));
    EXPECT_EQ(m.up_peers(), std::vector<std::string>{"b"});
    EXPECT_EQ(m.peers_json(),
              R"([{"node_id":"b","state":"up","region":"eu","endpoint":"tcp://b:1","slot_holder":true}])");
    now += kDownMs + 1;
    tick();
    EXPECT_TRUE(m.up_peers().empty());
    EXPECT_EQ(m.peers_json(),
              R"([{"node_id":"b","state":"down","region":"eu","endpoint":"tcp://b:1","slot_holder":false}])");
}

TEST_F(MembershipTest, AnExpectedEndpointIsUnheardUntilAPeerIsHeardThereOrItsTimeEnds) {
    EXPECT_TRUE(m.expect("tcp://b:1", now + 5000));
    EXPECT_FALSE(m.expect("tcp://b:1", now + 5000)) << "already expected";
    m.expect("tcp://c:1", now + 5000);
    EXPECT_EQ(m.unheard(now).size(), 2u);
    EXPECT_TRUE(m.expected("tcp://b:1", now));
    Heartbeat hb;
    hb.endpoint = "tcp://b:1";
    heartbeat("b", hb);
    EXPECT_EQ(m.node_at("tcp://b:1"), "b");
    EXPECT_FALSE(m.expected("tcp://b:1", now)) << "heard";
    EXPECT_EQ(m.unheard(now), std::vector<std::string>{"tcp://c:1"});
    EXPECT_TRUE(m.unheard(now + 5000).empty()) << "the startup window is over";
    EXPECT_EQ(m.node_at("tcp://c:1"), "");
}

TEST_F(MembershipTest, AHolderSilentPastTheSilenceIsHungUntilAnotherHolderIsHeard) {
    constexpr int64_t kSilence = 1500;
    heartbeat("b", Heartbeat{"", "eu", 0, true, true});
    heartbeat("c", Heartbeat{"", "eu", 0, true, false});
    EXPECT_TRUE(m.hung_holders(now, kSilence).empty());
    now += kSilence;
    hear("c");
    EXPECT_TRUE(m.hung_holders(now, kSilence).empty()) << "not silent past it yet";
    now += 1;
    EXPECT_EQ(m.hung_holders(now, kSilence), (std::vector<std::string>{"b"}));
    now += kDownMs;
    tick();  // down, and still hung: its walsender may hold the slot until wal_sender_timeout
    EXPECT_EQ(m.hung_holders(now, kSilence), (std::vector<std::string>{"b"}));
    heartbeat("c", Heartbeat{"", "eu", 0, true, true});  // c took over
    EXPECT_TRUE(m.hung_holders(now, kSilence).empty());
    heartbeat("b", Heartbeat{"", "eu", 0, true, false});  // b resumed, knowing it let go
    now += kSilence + 1;
    EXPECT_EQ(m.hung_holders(now, kSilence), (std::vector<std::string>{"c"}));
}

TEST_F(MembershipTest, OtherHolderHeardIsAPeersRecentClaim) {
    heartbeat("b", Heartbeat{"", "eu", 0, true, true});
    EXPECT_TRUE(m.other_holder_heard("c", now, 400));
    EXPECT_FALSE(m.other_holder_heard("b", now, 400)) << "its own claim";
    now += 401;
    EXPECT_FALSE(m.other_holder_heard("c", now, 400)) << "an old claim (a stopped holder) is no conflict";
}
