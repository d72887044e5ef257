// relay/hub/resume: orphaned subscriptions of a crashed run, adopted by rejoining clients with
// the changes held for them, or removed after the grace period.
#include "hub_fixture.h"
#include "relay/core/clock.h"
#include "relay/protocol/errors.h"

using namespace rt;
using namespace rt::testing;

// Orphans are made with the claims connect() gives the same role and sub (the rows keep
// the claims they were made with; only the same claims adopt them).
class ResumeTest : public HubTest {
protected:
    OrphanRow orphan(int64_t id, std::string table, std::string role = "authenticated", std::string sub = "user-1") {
        OrphanRow r;
        r.id = id;
        r.spec.event = "*";
        r.spec.schema = "public";
        r.spec.table = std::move(table);
        r.claims_json = "{\"role\":\"" + role + "\",\"exp\":" + std::to_string(wall() + 3600) + ",\"sub\":\"" + sub + "\"}";
        r.role = std::move(role);
        r.sub = std::move(sub);
        return r;
    }
};

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

// A crash orphan its dead run had parked (parked_at): what that run kept died with it, so
// its adopter gets what this run kept, then the error with the park's time.
TEST_F(ResumeTest, AnOrphanParkedByTheDeadRunIsAdoptedWithTheNodeDiedError) {
    OrphanRow parked = orphan(55, "todos");
    parked.created_s = wall() - 600;
    parked.parked_s = wall() - 30;
    hub->adopt_orphans({parked});
    hub->deliver_change(row({55}, 0x2000, 0));  // committed after the restart: kept

    Connection* c = connect(Vsn::V2, "user-1");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    auto out = join(c, "realtime:room1", o, "1");
    EXPECT_TRUE(db.subscribes.empty()) << "adopted, not subscribed again";
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].event, "phx_reply");
    EXPECT_NE(out[1].payload.find("Subscribed to PostgreSQL"), std::string::npos) << out[1].payload;
    EXPECT_EQ(out[2].event, "postgres_changes");
    EXPECT_EQ(ids_of(out[2]), "[55]");
    EXPECT_EQ(out[3].event, "system");
    EXPECT_NE(out[3].payload.find(errors::resume_node_died(iso8601_utc(wall() - 30))), std::string::npos)
        << out[3].payload;
    EXPECT_NE(out[3].payload.find("\"status\":\"error\""), std::string::npos) << out[3].payload;

    hub->deliver_change(row({55}, 0x2100, 0));  // live, and told once
    auto later = take(*c);
    EXPECT_EQ(with_event(later, "postgres_changes").size(), 1u);
    EXPECT_TRUE(with_event(later, "system").empty());
}

TEST_F(ResumeTest, AnOrphanParkedByTheDeadRunWithNothingKeptIsToldAfterSubscribed) {
    OrphanRow parked = orphan(55, "todos");
    parked.parked_s = wall() - 5;
    hub->adopt_orphans({parked});
    Connection* c = connect(Vsn::V2, "user-1");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    auto system = with_event(join(c, "realtime:room1", o, "1"), "system");
    ASSERT_EQ(system.size(), 2u);
    EXPECT_NE(system[0].payload.find("Subscribed to PostgreSQL"), std::string::npos);
    EXPECT_NE(system[1].payload.find(errors::resume_node_died(iso8601_utc(wall() - 5))), std::string::npos)
        << system[1].payload;
}

// Its client was connected when the node died: the dead run kept nothing for it (what it
// had not written it had not confirmed), so its adopter is not told.
TEST_F(ResumeTest, AnOrphanConnectedAtTheCrashIsAdoptedWithoutAnError) {
    OrphanRow connected = orphan(55, "todos");
    connected.created_s = wall() - 600;
    hub->adopt_orphans({connected});
    hub->deliver_change(row({55}, 0x2000, 0));
    Connection* c = connect(Vsn::V2, "user-1");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    auto out = join(c, "realtime:room1", o, "1");
    EXPECT_EQ(with_event(out, "postgres_changes").size(), 1u);
    auto system = with_event(out, "system");
    ASSERT_EQ(system.size(), 1u);
    EXPECT_NE(system[0].payload.find("Subscribed to PostgreSQL"), std::string::npos);
    EXPECT_EQ(system[0].payload.find("Changes were missed"), std::string::npos) << system[0].payload;
}

// -- parked subscriptions of closed sockets (issue 15) ---------------------------------

namespace {
const std::string kRoom = "realtime:room1";

std::vector<std::string> records(const std::vector<Out>& frames) {
    std::vector<std::string> out;
    for (const Out& o : with_event(frames, "postgres_changes")) {
        json::Document d;
        if (!json::parse(d, o.payload)) continue;
        const json::Value* data = json::member(d, "data");
        const json::Value* rec = data ? json::member(*data, "record") : nullptr;
        out.push_back(rec ? json::stringify(*rec) : "<none>");
    }
    return out;
}

ChangeEvent numbered(std::vector<int64_t> ids, uint64_t lsn, int n) {
    return row(std::move(ids), lsn, 0,
               R"({"schema":"public","table":"todos","type":"INSERT","record":{"n":)" + std::to_string(n) +
                   R"(},"errors":null})");
}
}  // namespace

class ParkTest : public HubTest {
protected:
    // A client of user-1 joined on kRoom with subscription 77, live, everything read.
    Connection* live_client(std::string_view sub = "user-1", int64_t exp_in_s = 3600) {
        Connection* c = connect(Vsn::V2, sub, exp_in_s);
        pg_joined(c, kRoom, "[" + kTodos + "]", {77});
        hub->deliver_change(subscribed({77}, 0x100, 0));
        take(*c);
        return c;
    }
    std::vector<Out> rejoin(std::string_view sub = "user-1") {
        Connection* c = connect(Vsn::V2, sub);
        JoinOpts o;
        o.postgres_changes = "[" + kTodos + "]";
        rejoined = c;
        return join(c, kRoom, o, "1");
    }
    Connection* rejoined = nullptr;
};

TEST_F(ParkTest, AClosedSocketParksItsSubscriptionAndTheRejoinGetsWhatItMissedThenLive) {
    Connection* c = live_client();
    hub->deliver_change(numbered({77}, 0x200, 1));
    take(*c);  // written
    hub->closed(*c);
    EXPECT_TRUE(db.unsubscribes.empty()) << "parked, not unsubscribed";
    EXPECT_EQ(hub->orphan_count(), 1u);
    hub->deliver_change(numbered({77}, 0x300, 2));
    hub->deliver_change(numbered({77}, 0x400, 3));
    EXPECT_EQ(hub->held_floor(), 0x300u);
    EXPECT_EQ(metrics.resume_kept_changes.load(), 2);
    EXPECT_GT(metrics.resume_kept_bytes.load(), 0);

    auto out = rejoin();
    EXPECT_TRUE(db.subscribes.size() == 1) << "adopted, not subscribed again";
    ASSERT_FALSE(out.empty());
    EXPECT_NE(out[0].payload.find("\"id\":77"), std::string::npos) << out[0].payload;
    EXPECT_EQ(records(out), (std::vector<std::string>{R"({"n":2})", R"({"n":3})"}));
    for (const Out& o : with_event(out, "postgres_changes"))
        EXPECT_NE(o.payload.find("\"recovered\":true"), std::string::npos) << o.payload;
    EXPECT_TRUE(with_event(out, "system").size() == 1) << "Subscribed to PostgreSQL, no error";
    EXPECT_EQ(hub->held_floor(), 0u);
    EXPECT_EQ(metrics.resume_recovered.load(), 1u);

    hub->deliver_change(numbered({77}, 0x500, 4));
    auto live = take(*rejoined);
    EXPECT_EQ(records(live), (std::vector<std::string>{R"({"n":4})"}));
    EXPECT_EQ(live[0].payload.find("recovered"), std::string::npos) << "a live change is not marked";
}

TEST_F(ParkTest, ChangesQueuedButNeverWrittenWhenTheSocketClosedAreKeptFirst) {
    Connection* c = live_client();
    hub->deliver_change(numbered({77}, 0x200, 1));
    hub->deliver_change(numbered({77}, 0x300, 2));  // both still in the queue: never written
    hub->closed(*c);
    hub->deliver_change(numbered({77}, 0x400, 3));
    auto out = rejoin();
    EXPECT_EQ(records(out), (std::vector<std::string>{R"({"n":1})", R"({"n":2})", R"({"n":3})"}));
}

TEST_F(ParkTest, AnotherUserWithTheSameTopicAndBindingsAdoptsNothing) {
    Connection* c = live_client("user-1");
    hub->closed(*c);
    hub->deliver_change(numbered({77}, 0x300, 2));
    auto out = rejoin("user-2");
    EXPECT_TRUE(out.empty()) << "waits for its own subscription";
    EXPECT_EQ(db.subscribes.size(), 2u);
    EXPECT_EQ(hub->orphan_count(), 1u);
}

TEST_F(ParkTest, AnotherTopicAdoptsNothing) {
    Connection* c = live_client();
    hub->closed(*c);
    Connection* d = connect(Vsn::V2, "user-1");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    EXPECT_TRUE(join(d, "realtime:elsewhere", o, "1").empty());
    EXPECT_EQ(db.subscribes.size(), 2u);
}

TEST_F(ParkTest, APhxLeaveUnsubscribesInsteadOfParking) {
    Connection* c = live_client();
    send(c, msg(Vsn::V2, "1", "2", kRoom, "phx_leave", "{}"));
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{77}));
    EXPECT_EQ(hub->orphan_count(), 0u);
}

TEST_F(ParkTest, PastTheWindowTheRowsGoAndALateRejoinIsToldWhatItMissedSinceWhen) {
    cfg.resume_window_s = 30;
    Connection* c = live_client();
    const std::string since = iso8601_utc(wall());
    hub->closed(*c);
    advance_ms(30 * 1000 + 1);
    hub->tick();
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{77}));
    EXPECT_EQ(hub->orphan_count(), 0u);
    EXPECT_EQ(metrics.resume_expired.load(), 1u);

    rejoin();
    ASSERT_EQ(db.subscribes.size(), 2u) << "subscribed again";
    SubscribeResult r;
    r.member_id = db.subscribes.back().member_id;
    r.ok = true;
    r.ids = {78};
    hub->on_subscribe_result(std::move(r));
    auto sys = with_event(take(*rejoined), "system");
    ASSERT_EQ(sys.size(), 1u);
    EXPECT_NE(sys[0].payload.find("\"status\":\"error\""), std::string::npos) << sys[0].payload;
    EXPECT_NE(sys[0].payload.find("resume window (30 s)"), std::string::npos) << sys[0].payload;
    EXPECT_NE(sys[0].payload.find(since), std::string::npos) << sys[0].payload;
    EXPECT_NE(sys[0].payload.find("\"extension\":\"postgres_changes\""), std::string::npos);
}

// A token refreshed while the connection was away (supabase-js refreshes on wake): the
// same claims but exp, iat, nbf and jti. It grants the same, so it adopts: the kept
// changes come, once each, with no system error, and the row takes the new claims (as
// an access_token refresh gives them), for what the decoder decides from then on.
TEST_F(ParkTest, ARejoinWithARefreshedTokenAdoptsAndTheRowTakesItsClaims) {
    Connection* c = live_client();
    hub->deliver_change(numbered({77}, 0x200, 1));
    take(*c);
    hub->closed(*c);
    hub->deliver_change(numbered({77}, 0x300, 2));
    hub->deliver_change(numbered({77}, 0x400, 3));
    advance_ms(5000);
    const std::string later = std::to_string(wall() + 7200), now = std::to_string(wall());
    Connection* d = connect_with(Vsn::V2, R"({"role":"authenticated","exp":)" + later + R"(,"iat":)" + now +
                                              R"(,"nbf":)" + now + R"(,"jti":"refreshed","sub":"user-1"})");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    auto out = join(d, kRoom, o, "1");
    EXPECT_EQ(db.subscribes.size(), 1u) << "adopted, not subscribed again";
    ASSERT_FALSE(out.empty());
    EXPECT_NE(out[0].payload.find("\"id\":77"), std::string::npos) << out[0].payload;
    EXPECT_EQ(records(out), (std::vector<std::string>{R"({"n":2})", R"({"n":3})"}));
    auto sys = with_event(out, "system");
    ASSERT_EQ(sys.size(), 1u);
    EXPECT_EQ(sys[0].payload.find("error"), std::string::npos) << sys[0].payload;
    ASSERT_EQ(db.claims_updates.size(), 1u) << "the row takes the refreshed claims";
    EXPECT_EQ(db.claims_updates[0].client, d->id);
    EXPECT_EQ(db.claims_updates[0].ids, (std::vector<int64_t>{77}));
    EXPECT_EQ(db.claims_updates[0].claims_json, d->claims.json);
    EXPECT_TRUE(db.unsubscribes.empty());
    EXPECT_EQ(metrics.resume_recovered.load(), 1u);
    EXPECT_EQ(metrics.resume_claims_changed.load(), 0u);
}

// The parked token expires before its client comes back: what the decoder decides after
// that is not kept (it was decided with a token no longer valid). The refreshed token's
// rejoin adopts what was kept before and is told it missed changes since the expiry.
TEST_F(ParkTest, AParkedSubscriptionKeepsNothingAfterItsTokenExpired) {
    Connection* c = live_client("user-1", 10);
    const int64_t exp = wall() + 10;
    hub->closed(*c);
    hub->deliver_change(numbered({77}, 0x300, 2));
    advance_ms(10'000);
    hub->deliver_change(numbered({77}, 0x400, 3));
    EXPECT_EQ(metrics.resume_kept_changes.load(), 1);
    Connection* d = connect(Vsn::V2, "user-1", 7200);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    auto out = join(d, kRoom, o, "1");
    EXPECT_EQ(db.subscribes.size(), 1u) << "adopted";
    EXPECT_EQ(records(out), (std::vector<std::string>{R"({"n":2})"}));
    auto sys = with_event(out, "system");
    ASSERT_EQ(sys.size(), 2u);
    EXPECT_NE(sys[1].payload.find("token expired"), std::string::npos) << sys[1].payload;
    EXPECT_NE(sys[1].payload.find(iso8601_utc(exp)), std::string::npos) << sys[1].payload;
    EXPECT_EQ(metrics.resume_overflows.load(), 0u);
}

// A token of the same role and sub with another claim (an org_id a policy reads): what
// was kept was decided by the old claims, so it is dropped, not delivered; the join is
// subscribed anew and told since when it missed.
TEST_F(ParkTest, ARejoinWithOtherClaimsAdoptsNothingAndIsToldItMissedChangesSinceItLeft) {
    Connection* c = live_client();
    const std::string since = iso8601_utc(wall());
    hub->closed(*c);
    hub->deliver_change(numbered({77}, 0x300, 2));
    Connection* d = connect_with(Vsn::V2, R"({"role":"authenticated","exp":)" + std::to_string(wall() + 3600) +
                                              R"(,"sub":"user-1","org_id":"acme"})");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    EXPECT_TRUE(join(d, kRoom, o, "1").empty()) << "waits for a subscription of its own";
    ASSERT_EQ(db.subscribes.size(), 2u) << "subscribed anew";
    EXPECT_EQ(db.subscribes.back().claims_json, d->claims.json) << "with the new claims";
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{77}));
    EXPECT_EQ(hub->orphan_count(), 0u);
    EXPECT_EQ(hub->held_floor(), 0u) << "the kept change is dropped";
    EXPECT_EQ(metrics.resume_kept_changes.load(), 0);
    EXPECT_EQ(metrics.resume_claims_changed.load(), 1u);
    EXPECT_EQ(metrics.resume_recovered.load(), 0u);
    SubscribeResult r;
    r.member_id = db.subscribes.back().member_id;
    r.ok = true;
    r.ids = {78};
    hub->on_subscribe_result(std::move(r));
    auto out = take(*d);
    EXPECT_TRUE(records(out).empty()) << "nothing decided with the old claims is delivered";
    auto sys = with_event(out, "system");
    ASSERT_EQ(sys.size(), 1u);
    EXPECT_NE(sys[0].payload.find("\"status\":\"error\""), std::string::npos) << sys[0].payload;
    EXPECT_NE(sys[0].payload.find("claims changed"), std::string::npos) << sys[0].payload;
    EXPECT_NE(sys[0].payload.find(since), std::string::npos) << sys[0].payload;
}

// The same claims in another order (as jsonb writes a crash orphan's back) still adopt.
TEST_F(ResumeTest, OrphanMadeWithTheSameClaimsInAnotherOrderIsAdoptedAndOtherClaimsAreNot) {
    Connection* probe = connect(Vsn::V2, "user-1");
    json::Document d;
    ASSERT_TRUE(json::parse(d, probe->claims.json));
    std::string reordered = "{";
    for (auto it = d.MemberEnd(); it != d.MemberBegin();) {
        --it;
        if (reordered.size() > 1) reordered += ",";
        reordered += "\"" + std::string(it->name.GetString()) + "\":" + json::stringify(it->value);
    }
    reordered += "}";
    ASSERT_NE(reordered, probe->claims.json);
    OrphanRow same = orphan(55, "todos");
    same.claims_json = reordered;
    OrphanRow other = orphan(56, "notes");
    other.claims_json = R"({"role":"authenticated","sub":"user-1","org_id":"acme"})";
    hub->adopt_orphans({same, other});

    Connection* c = connect(Vsn::V2, "user-1");
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    join(c, "realtime:room1", o, "1");
    EXPECT_TRUE(db.subscribes.empty()) << "adopted";
    o.postgres_changes = R"([{"event":"*","schema":"public","table":"notes"}])";
    join(c, "realtime:room2", o, "2");
    EXPECT_EQ(db.subscribes.size(), 1u) << "other claims: subscribed anew";
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{56}));
    EXPECT_TRUE(db.claims_updates.empty()) << "the same claims: the row keeps them";
}

TEST_F(ParkTest, AnOverflowedSubscriptionDeliversWhatItKeptThenTheError) {
    cfg.resume_max_changes = 2;
    Connection* c = live_client();
    hub->closed(*c);
    for (int n = 1; n <= 5; ++n) hub->deliver_change(numbered({77}, 0x300 + n, n));
    EXPECT_EQ(metrics.resume_overflows.load(), 1u);
    EXPECT_EQ(metrics.resume_kept_changes.load(), 2);
    auto out = rejoin();
    EXPECT_EQ(records(out), (std::vector<std::string>{R"({"n":1})", R"({"n":2})"}));
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back().event, "system");
    EXPECT_NE(out.back().payload.find("more changed while the connection was away"), std::string::npos)
        << out.back().payload;
}

TEST_F(ParkTest, TheTotalBoundHoldsUnderAStormOfDisconnects) {
    cfg.resume_total_bytes = 64 * 1024;
    std::vector<Connection*> conns;
    for (int i = 0; i < 200; ++i) {
        Connection* c = connect(Vsn::V2, "user-" + std::to_string(i));
        pg_joined(c, kRoom, "[" + kTodos + "]", {1000 + i});
        conns.push_back(c);
    }
    for (Connection* c : conns) hub->closed(*c);
    EXPECT_EQ(hub->orphan_count(), 200u);
    std::vector<int64_t> all;
    for (int i = 0; i < 200; ++i) all.push_back(1000 + i);
    for (int n = 1; n <= 50; ++n) hub->deliver_change(numbered(all, 0x1000 + n, n));
    EXPECT_LE(metrics.resume_kept_bytes.load(), cfg.resume_total_bytes);
    EXPECT_GT(metrics.resume_overflows.load(), 0u);
}

// A change every parked subscription matched carries all their ids: each subscription
// counts its own share of it (its data and its id), not the whole list, so the bound
// grows with the clients, not with their square (it used to count 1 000 clients x 100
// changes as 0.9 GB and overflow them all).
TEST_F(ParkTest, AChangeSharedByManyParkedSubscriptionsCountsEachItsOwnShare) {
    const int clients = 1000, changes = 100;
    cfg.resume_total_bytes = int64_t{clients} * changes * 1024;  // 1 KiB per subscription and change
    std::vector<Connection*> conns;
    std::vector<int64_t> all;
    for (int i = 0; i < clients; ++i) {
        Connection* c = connect(Vsn::V2, "user-" + std::to_string(i));
        pg_joined(c, kRoom, "[" + kTodos + "]", {1000 + i});
        conns.push_back(c);
        all.push_back(1000 + i);
    }
    for (Connection* c : conns) hub->closed(*c);
    for (int n = 1; n <= changes; ++n) hub->deliver_change(numbered(all, 0x1000 + n, n));
    EXPECT_EQ(metrics.resume_overflows.load(), 0u);
    EXPECT_EQ(metrics.resume_kept_changes.load(), int64_t{clients} * changes);
    EXPECT_LE(metrics.resume_kept_bytes.load(), cfg.resume_total_bytes);

    auto out = rejoin("user-7");
    auto got = with_event(out, "postgres_changes");
    ASSERT_EQ(got.size(), static_cast<size_t>(changes));
    EXPECT_EQ(ids_of(got.front()), "[1007]");
    EXPECT_EQ(records(out).back(), R"({"n":100})");
    EXPECT_TRUE(with_event(out, "system").size() <= 1) << "no error";
}

TEST_F(ParkTest, NoWindowMeansNoParking) {
    cfg.resume_window_s = 0;
    Connection* c = live_client();
    hub->closed(*c);
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{77}));
    EXPECT_EQ(hub->orphan_count(), 0u);
}

// A draining node (SIGTERM) parks nothing in its memory, which ends with it, and keeps the
// rows: its next run finds them as orphans for the returning clients.
TEST_F(ParkTest, ADrainParksNothingAndKeepsTheRows) {
    Connection* c = live_client();
    hub->begin_drain();
    hub->closed(*c);
    EXPECT_EQ(hub->orphan_count(), 0u);
    EXPECT_TRUE(db.unsubscribed_ids().empty());
}

// -- resuming on another node (the rows of a dead node move here) ----------------------

namespace {
ChangeEvent recovered(std::vector<int64_t> ids, uint64_t lsn, int n) {
    ChangeEvent ev = numbered(ids, lsn, n);
    ev.kind = ChangeEvent::Kind::Recovered;
    ev.groups[0].payload = payloads::recovered_with_ids(ev.groups[0].payload, ev.groups[0].ids);
    return ev;
}
}  // namespace

class MoveTest : public ParkTest {
protected:
    void SetUp() override {
        ParkTest::SetUp();
        cfg.cluster_bind = "tcp://127.0.0.1:1";
        cfg.peer_down_ms = 3000;
    }
    // The database moved row 77 here: parked since `since` on parked_on (a live node; ""
    // for a dead one).
    void adopted_parked(int64_t since, std::string parked_on = "") {
        SubscribeResult r;
        r.member_id = db.subscribes.back().member_id;
        r.ok = true;
        r.ids = {77};
        r.adopted = true;
        r.lost_since_s = since;
        r.parked_on = std::move(parked_on);
        hub->on_subscribe_result(std::move(r));
    }
    void answer(std::vector<int64_t> ids, bool adopted, bool elsewhere) {
        SubscribeResult r;
        r.member_id = db.subscribes.back().member_id;
        r.ok = true;
        r.ids = std::move(ids);
        r.adopted = adopted;
        r.elsewhere = elsewhere;
        hub->on_subscribe_result(std::move(r));
    }
};

TEST_F(MoveTest, AJoinInAClusterAsksToAdoptADeadNodesRowsAsItsUser) {
    rejoin("user-1");
    ASSERT_EQ(db.subscribes.size(), 1u);
    const AdoptAs& as = db.subscribes[0].adopt;
    EXPECT_TRUE(as.enabled);
    EXPECT_EQ(as.role, "authenticated");
    EXPECT_EQ(as.sub, "user-1");
    EXPECT_EQ(as.silent_for_ms, 3000);
    EXPECT_TRUE(as.wait);
}

TEST_F(MoveTest, RowsOnANodeThatStillBeatsAreAskedForAgainThenSubscribedAnew) {
    rejoin("user-1");
    answer({}, false, true);
    EXPECT_TRUE(take(*rejoined).empty()) << "no reply yet";
    advance_ms(600);
    hub->tick();
    ASSERT_EQ(db.subscribes.size(), 2u) << "asked again";
    EXPECT_TRUE(db.subscribes[1].adopt.wait);
    answer({}, false, true);
    advance_ms(6000);
    hub->tick();
    ASSERT_EQ(db.subscribes.size(), 3u);
    EXPECT_FALSE(db.subscribes[2].adopt.wait) << "past the deadline: subscribe anew";
    answer({91}, false, false);
    auto out = take(*rejoined);
    ASSERT_FALSE(out.empty());
    EXPECT_NE(out[0].payload.find("\"id\":91"), std::string::npos);
}

TEST_F(MoveTest, AnAdoptedRowGetsWhatTheHolderKeptBeforeTheMoveThenLiveChanges) {
    Connection* other = connect(Vsn::V2, "user-9");
    pg_joined(other, "realtime:else", "[" + kTodos + "]", {5});
    hub->deliver_change(numbered({5}, 0x900, 100));  // this node delivered up to 0x900
    rejoin("user-1");
    hub->deliver_change(recovered({77}, 0x500, 1));  // before the database's answer
    answer({77}, true, false);
    hub->deliver_change(recovered({77}, 0x600, 2));
    hub->deliver_change(recovered({77}, 0x600, 2));  // a resend: once
    hub->deliver_change(subscribed({77}, 0x950, 0));  // the move
    hub->deliver_change(numbered({77}, 0xa00, 3));
    auto out = take(*rejoined);
    EXPECT_NE(out[0].payload.find("\"id\":77"), std::string::npos);
    EXPECT_EQ(records(out), (std::vector<std::string>{R"({"n":1})", R"({"n":2})", R"({"n":3})"}));
    auto pcs = with_event(out, "postgres_changes");
    EXPECT_NE(pcs[0].payload.find("\"recovered\":true"), std::string::npos);
    EXPECT_EQ(pcs[2].payload.find("recovered"), std::string::npos);
    EXPECT_EQ(with_event(out, "system").size(), 1u) << "Subscribed to PostgreSQL at the move";
    EXPECT_EQ(metrics.resume_recovered.load(), 1u);
}

TEST_F(MoveTest, ADeadNodesRowsMadeWithOtherClaimsAreNotMovedAndTheJoinIsToldSinceWhen) {
    rejoin("user-1");
    EXPECT_EQ(db.subscribes[0].adopt.claims_json, rejoined->claims.json) << "only rows of these claims move";
    const int64_t beat = wall() - 10;
    SubscribeResult r;
    r.member_id = db.subscribes.back().member_id;
    r.ok = true;
    r.ids = {92};  // subscribed anew
    r.claims_changed_since_s = beat;
    hub->on_subscribe_result(std::move(r));
    hub->deliver_change(subscribed({92}, 0x950, 0));
    auto out = take(*rejoined);
    EXPECT_NE(out[0].payload.find("\"id\":92"), std::string::npos);
    auto errors = with_event(out, "system");
    bool told = std::any_of(errors.begin(), errors.end(), [&](const Out& o) {
        return o.payload.find("claims changed") != std::string::npos &&
               o.payload.find(iso8601_utc(beat)) != std::string::npos;
    });
    EXPECT_TRUE(told) << (errors.empty() ? "no system message" : errors[0].payload);
    EXPECT_EQ(metrics.resume_recovered.load(), 0u);
}

TEST_F(MoveTest, ASingleNodeDoesNotAskToAdopt) {
    cfg.cluster_bind.clear();
    rejoin("user-1");
    EXPECT_FALSE(db.subscribes.back().adopt.enabled);
}

// The parked state in the database (realtime.mark_parked through DbPort::mark_parked): in a
// cluster a park is recorded with its time, and cleared when the client comes back here.
TEST_F(MoveTest, AParkIsRecordedWithItsTimeAndClearedWhenItsClientComesBack) {
    Connection* c = live_client();
    const int64_t at = wall() * 1000;
    hub->closed(*c);
    ASSERT_EQ(db.parks.size(), 1u);
    EXPECT_EQ(db.parks[0].id, 77);
    EXPECT_GE(db.parks[0].at_ms, at - 1000);
    EXPECT_LE(db.parks[0].at_ms, at + 1000);
    rejoin("user-1");
    ASSERT_EQ(db.parks.size(), 2u);
    EXPECT_EQ(db.parks[1].id, 77);
    EXPECT_EQ(db.parks[1].at_ms, 0) << "adopted here: no longer parked";
}

TEST_F(ParkTest, ASingleNodeRecordsNoPark) {
    Connection* c = live_client();
    hub->closed(*c);
    EXPECT_EQ(hub->orphan_count(), 1u);
    EXPECT_TRUE(db.parks.empty()) << "only another node's adoption reads it";
}

// A dead node's parked row (realtime.adopt's lost_since): what it kept died with it. The
// join is told after what the slot holder handed over, i.e. at the move's SUBSCRIBED.
TEST_F(MoveTest, ADeadNodesParkedRowIsAdoptedAndTheClientToldWhatDiedWithItAfterTheHandOver) {
    rejoin("user-1");
    const int64_t parked = wall() - 7;
    adopted_parked(parked);
    hub->deliver_change(recovered({77}, 0x600, 1));
    auto before = take(*rejoined);
    EXPECT_TRUE(with_event(before, "system").empty()) << "not before what the holder hands over";
    hub->deliver_change(recovered({77}, 0x700, 2));
    hub->deliver_change(subscribed({77}, 0x950, 0));
    hub->deliver_change(numbered({77}, 0xa00, 3));
    auto out = take(*rejoined);
    EXPECT_EQ(records(out), (std::vector<std::string>{R"({"n":2})", R"({"n":3})"}));
    auto system = with_event(out, "system");
    ASSERT_EQ(system.size(), 2u);
    EXPECT_NE(system[0].payload.find("Subscribed to PostgreSQL"), std::string::npos);
    EXPECT_NE(system[1].payload.find("Changes were missed"), std::string::npos) << system[1].payload;
    EXPECT_NE(system[1].payload.find(iso8601_utc(parked)), std::string::npos) << system[1].payload;
    // the error comes before the live change
    size_t error_at = 0, live_at = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i].payload.find("Changes were missed") != std::string::npos) error_at = i;
        if (out[i].payload.find(R"({"n":3})") != std::string::npos) live_at = i;
    }
    EXPECT_LT(error_at, live_at);
}

TEST_F(MoveTest, ADeadNodesParkedRowWhoseMoveWasLiveBeforeTheReplyIsToldAfterTheHandedOverRows) {
    rejoin("user-1");
    hub->deliver_change(recovered({77}, 0x600, 1));  // before the database's answer
    hub->deliver_change(subscribed({77}, 0x950, 0));
    adopted_parked(wall() - 3);
    auto out = take(*rejoined);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(records(out), (std::vector<std::string>{R"({"n":1})"}));
    ASSERT_FALSE(out.empty());
    EXPECT_NE(out.back().payload.find("Changes were missed"), std::string::npos) << out.back().payload;
    EXPECT_EQ(with_event(out, "system").size(), 2u);
}

// A live node's parked row moved here (realtime.adopt's parked_on): the join waits for the
// row to be live, asks that node for what it kept, and delivers it merged with what the
// holder handed over, then live changes.
TEST_F(MoveTest, ARowParkedOnALiveNodeWaitsForItsKeptChangesOnceLiveThenDeliversThemInOrder) {
    rejoin("user-1");
    adopted_parked(wall() - 5, "node-b");
    hub->deliver_change(recovered({77}, 0x600, 3));  // the holder: what node-b had not confirmed
    EXPECT_TRUE(cluster.kept_asks.empty()) << "not before the row is live here";
    hub->deliver_change(subscribed({77}, 0x950, 0));
    ASSERT_EQ(cluster.kept_asks.size(), 1u);
    EXPECT_EQ(cluster.kept_asks[0].first, "node-b");
    EXPECT_EQ(cluster.kept_asks[0].second.subscriptions, std::vector<int64_t>{77});
    hub->deliver_change(numbered({77}, 0xa00, 4));
    EXPECT_TRUE(take(*rejoined).empty()) << "the reply waits for what node-b kept";

    KeptHandOver h;
    h.id = cluster.kept_asks[0].second.id;
    h.handed = {77};
    for (auto [lsn, n] : {std::pair<uint64_t, int>{0x400, 1}, {0x500, 2}, {0x600, 3}}) {
        ChangeEvent ev = numbered({77}, lsn, n);
        ev.groups[0].payload = payloads::recovered_with_ids(ev.groups[0].payload, {77});
        h.changes.push_back(ev);
    }
    hub->on_kept_handed("node-b", std::move(h));
    auto out = take(*rejoined);
    EXPECT_NE(out[0].payload.find("\"id\":77"), std::string::npos);
    EXPECT_EQ(records(out), (std::vector<std::string>{R"({"n":1})", R"({"n":2})", R"({"n":3})", R"({"n":4})"}));
    auto pcs = with_event(out, "postgres_changes");
    for (size_t i = 0; i < 3; ++i) EXPECT_NE(pcs[i].payload.find("\"recovered\":true"), std::string::npos);
    EXPECT_EQ(pcs[3].payload.find("recovered"), std::string::npos);
    for (const Out& o : with_event(out, "system")) EXPECT_EQ(o.payload.find("error"), std::string::npos) << o.payload;
}

TEST_F(MoveTest, ALiveNodeThatDoesNotHandOverInTimeMakesTheJoinSaySinceWhen) {
    rejoin("user-1");
    const int64_t parked = wall() - 5;
    adopted_parked(parked, "node-b");
    hub->deliver_change(recovered({77}, 0x600, 3));
    hub->deliver_change(subscribed({77}, 0x950, 0));
    advance_ms(3500);
    hub->tick();
    auto out = take(*rejoined);
    EXPECT_EQ(records(out), (std::vector<std::string>{R"({"n":3})"}));
    ASSERT_FALSE(out.empty());
    EXPECT_NE(out.back().payload.find("Changes were missed"), std::string::npos) << out.back().payload;
    EXPECT_NE(out.back().payload.find(iso8601_utc(parked)), std::string::npos);
    EXPECT_EQ(metrics.resume_not_handed_over.load(), 1u);
    // A late answer changes nothing.
    KeptHandOver late;
    late.id = cluster.kept_asks.at(0).second.id;
    late.handed = {77};
    late.changes.push_back(numbered({77}, 0x500, 2));
    hub->on_kept_handed("node-b", std::move(late));
    EXPECT_TRUE(take(*rejoined).empty());
}

// The node a row was parked on: asked, it hands over what it kept and forgets the row
// without unsubscribing it (the row is the asker's now).
TEST_F(MoveTest, AskedForAParkedRowTheNodeHandsOverWhatItKeptAndForgetsIt) {
    Connection* c = live_client();
    hub->closed(*c);
    hub->deliver_change(numbered({77}, 0x300, 2));
    hub->deliver_change(numbered({77}, 0x400, 3));
    hub->hand_kept("node-c", KeptAsk{5, {77, 99}});
    ASSERT_EQ(cluster.kept_handed.size(), 1u);
    const KeptHandOver& h = cluster.kept_handed[0].second;
    EXPECT_EQ(cluster.kept_handed[0].first, "node-c");
    EXPECT_EQ(h.id, 5u);
    EXPECT_EQ(h.handed, std::vector<int64_t>{77}) << "99 was not parked here";
    ASSERT_EQ(h.changes.size(), 2u);
    EXPECT_EQ(h.changes[0].pos.commit_lsn, 0x300u);
    EXPECT_NE(h.changes[0].groups[0].payload.find("\"recovered\":true"), std::string::npos);
    EXPECT_EQ(hub->orphan_count(), 0u);
    EXPECT_EQ(hub->held_floor(), 0u);
    EXPECT_TRUE(db.unsubscribes.empty()) << "the row is the other node's";
    EXPECT_EQ(metrics.resume_moved.load(), 1u);
}
