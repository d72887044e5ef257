// relay/hub/presence: track and untrack, presence_state and presence_diff, peers' entries.
#include "hub_fixture.h"

using namespace rt;
using namespace rt::testing;

using PresenceTest = HubTest;

TEST_F(PresenceTest, PresenceStateAfterJoinAndDiffsOnTrackAndUntrack) {
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

TEST_F(PresenceTest, PresenceUpdateIsJoinPlusLeaveWithPhxRefPrev) {
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

TEST_F(PresenceTest, PresenceTrackNeedsAnObject) {
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

TEST_F(PresenceTest, TrackOnChannelJoinedWithoutPresenceEnablesIt) {
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

TEST_F(PresenceTest, MembersWithoutPresenceGetNoDiffs) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V2);
    JoinOpts pa;
    pa.presence = true;
    join(a, "realtime:room1", pa);
    joined(b, "realtime:room1");
    send(a, msg(Vsn::V2, "1", "2", "realtime:room1", "presence", R"({"type":"presence","event":"track","payload":{}})"));
    EXPECT_TRUE(take(*b).empty());
}

TEST_F(PresenceTest, LeavingUntracksPresence) {
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

TEST_F(PresenceTest, RemotePresenceReachesLocalMembers) {
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

TEST_F(PresenceTest, RemoteSnapshotDiffsOnlyWhatChanged) {
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

TEST_F(PresenceTest, PresenceSnapshotForPeersHasOnlyLocalEntries) {
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

TEST_F(PresenceTest, APeerAskingForASnapshotGetsTheLocalEntries) {
    Connection* a = connect(Vsn::V2);
    JoinOpts p;
    p.presence = true;
    p.key = "mine";
    join(a, "realtime:room1", p);
    send(a, msg(Vsn::V2, "1", "2", "realtime:room1", "presence", R"({"type":"presence","event":"track","payload":{"n":1}})"));
    hub->apply_remote_presence("node-b", remote_entry("realtime:room1", 5, "theirs", "R", ""));
    hub->send_presence_snapshot("node-b");
    ASSERT_EQ(cluster.snapshots.size(), 1u);
    EXPECT_EQ(cluster.snapshots[0].first, "node-b");
    ASSERT_EQ(cluster.snapshots[0].second.size(), 1u);
    EXPECT_EQ(cluster.snapshots[0].second[0].entry.key, "mine");
}

class PresenceTrackTest : public HubTest {
protected:
    // A presence push on realtime:room1 (no "payload" member when payload_member is empty).
    void track(Connection* c, std::string_view event, std::string_view ref, std::string_view payload_member) {
        std::string p = "{\"type\":\"presence\",\"event\":" + q(event);
        if (!payload_member.empty()) p += ",\"payload\":" + std::string(payload_member);
        p += "}";
        send(c, msg(c->vsn, "1", ref, "realtime:room1", "presence", p));
    }
};

TEST_F(PresenceTrackTest, EventsInAnyCaseAnIdenticalTrackIsNoDiffAndNoPayloadIsAnEmptyMeta) {
    Connection* a = connect(Vsn::V2);
    JoinOpts o;
    o.presence = true;
    o.key = "k";
    join(a, "realtime:room1", o);
    track(a, "TRACK", "2", R"({"t":1814.7000000029802,"n":123456789012345678901234567890})");
    auto first = take(*a);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_NE(first[0].raw.find(R"("t":1814.7000000029802,"n":123456789012345678901234567890})"), std::string::npos)
        << first[0].raw;
    track(a, "Track", "3", R"({"n":123456789012345678901234567890,"t":1814.7000000029802})");
    auto same = take(*a);
    ASSERT_EQ(same.size(), 1u) << "the same meta again: a reply, no diff";
    EXPECT_EQ(same[0].event, "phx_reply");
    track(a, "UNTRACK", "4", "");
    EXPECT_EQ(with_event(take(*a), "presence_diff").size(), 1u);
    track(a, "track", "5", "");
    auto empty = with_event(take(*a), "presence_diff");
    ASSERT_EQ(empty.size(), 1u);
    json::Document d;
    ASSERT_TRUE(json::parse(d, empty[0].payload));
    EXPECT_EQ(d["joins"]["k"]["metas"][0].MemberCount(), 1u) << "only phx_ref: " << empty[0].payload;
}

TEST_F(PresenceTrackTest, AMetaOverThePayloadLimitClosesTheChannel) {
    cfg.limits.max_payload_bytes = 1024;
    make_hub();
    Connection* a = connect(Vsn::V2);
    JoinOpts o;
    o.presence = true;
    join(a, "realtime:room1", o);
    track(a, "track", "2", "{\"x\":\"" + std::string(2000, 'a') + "\"}");
    auto out = take(*a);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_NE(out[0].payload.find("Track message size exceeded"), std::string::npos);
    EXPECT_EQ(out[1].event, "phx_close");
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
    EXPECT_TRUE(transport.closes.empty());
}
