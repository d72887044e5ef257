// relay/hub/resume: orphaned subscriptions of a crashed run, adopted by rejoining clients with
// the changes held for them, or removed after the grace period.
#include "hub_fixture.h"

using namespace rt;
using namespace rt::testing;

using ResumeTest = HubTest;

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

TEST_F(ResumeTest, OrphanIsAdoptedAndHeldChangesReplayedAfterTheReply) {
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

TEST_F(ResumeTest, OrphanWithAnotherSubIsNotAdopted) {
    hub->adopt_orphans({orphan(55, "todos", "authenticated", "user-1")});
    Connection* c = connect(Vsn::V2, "user-2");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    auto out = join(c, "realtime:room1", o, "1");
    EXPECT_TRUE(out.empty()) << "waits for its own subscription";
    ASSERT_EQ(db.subscribes.size(), 1u);
    EXPECT_EQ(hub->orphan_count(), 1u);
}

TEST_F(ResumeTest, OrphanWithAnotherRoleOrBindingIsNotAdopted) {
    hub->adopt_orphans({orphan(55, "todos", "service_role", "user-1"), orphan(56, "other", "authenticated", "user-1")});
    Connection* c = connect(Vsn::V2, "user-1");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    join(c, "realtime:room1", o, "1");
    EXPECT_EQ(db.subscribes.size(), 1u);
    EXPECT_EQ(hub->orphan_count(), 2u);
}

TEST_F(ResumeTest, OrphansNotAdoptedWithinTheGraceAreUnsubscribed) {
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

TEST_F(ResumeTest, HeldFloorIsTheLowestHeldChange) {
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

TEST_F(ResumeTest, AdoptedReplayOfAChangeMatchingTwoIdsIsSentOnce) {
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

TEST_F(ResumeTest, ChangesForAnAdoptedIdWhileTheJoinWaitsForTheClusterAreNotLost) {
    cluster.auto_route = false;  // a restarted node: every channel is new, its route is checked first
    hub->adopt_orphans({orphan(55, "todos")});
    hub->deliver_change(row({55}, 0x2000, 0));  // held for the orphan
    Connection* c = connect(Vsn::V2, "user-1");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    EXPECT_TRUE(join(c, "realtime:room1", o, "1").empty());
    hub->deliver_change(row({55}, 0x2100, 0));  // adopted, not yet answered
    hub->on_channel_routed("realtime:room1");
    auto out = with_event(take(*c), "postgres_changes");
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(ids_of(out[0]), "[55]");
}
