// relay/hub/changes: change events routed by subscription id (each member its own ids), replays
// dropped by position, "Subscribed to PostgreSQL", and subscriptions the slot holder removed.
#include "hub_fixture.h"

using namespace rt;
using namespace rt::testing;

using ChangesTest = HubTest;

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

TEST_F(ChangesTest, ChangesAreRoutedByIdOncePerChannel) {
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

TEST_F(ChangesTest, EachChannelSeesOnlyItsOwnIds) {
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

TEST_F(ChangesTest, ChangePayloadIsSentExactly) {
    Connection* a = connect(Vsn::V2);
    pg_joined(a, "realtime:room1", "[" + kTodos + "]", {101});
    take(*a);
    std::string data = R"({"schema":"public","table":"todos","type":"UPDATE","record":{"price":1.00},"old_record":{"id":1},"errors":null})";
    hub->deliver_change(row({101}, 0x1000, 0, data));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw, "[null,null,\"realtime:room1\",\"postgres_changes\"," +
                              payloads::postgres_changes({101}, data) + "]");
}

TEST_F(ChangesTest, ChangesForUnknownIdsAreDropped) {
    Connection* a = connect(Vsn::V2);
    pg_joined(a, "realtime:room1", "[" + kTodos + "]", {101});
    take(*a);
    hub->deliver_change(row({999}, 0x1000, 0));
    EXPECT_TRUE(take(*a).empty());
}

TEST_F(ChangesTest, DuplicateChangesAreDroppedByPosition) {
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

TEST_F(ChangesTest, SubscribedAnnouncedOnceAllBindingsAreLive) {
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

TEST_F(ChangesTest, SubscribedBeforeTheDatabaseAnswerIsAnnouncedAfterTheReply) {
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

TEST_F(ChangesTest, SubscribedForOneOfTwoBindingsBeforeTheAnswerWaitsForTheOther) {
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

TEST_F(ChangesTest, ChannelWithoutBindingsIsNeverAnnounced) {
    Connection* a = connect(Vsn::V2);
    joined(a, "realtime:room1");
    hub->deliver_change(subscribed({1}, 0x500, 0));
    EXPECT_TRUE(take(*a).empty());
}

TEST_F(ChangesTest, ChannelsWhoseRowsWereRemovedAreToldToRejoin) {
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

// -- what the slot holder decided: groups and notices -----------------------------------

namespace {

ChangeEvent with_groups(uint64_t lsn, std::vector<std::pair<std::vector<int64_t>, std::string>> groups,
                        std::vector<BindingNotice> notices = {}) {
    ChangeEvent ev;
    ev.pos = {lsn, 0};
    for (auto& [ids, record] : groups) {
        std::string data = R"({"schema":"public","table":"todos","type":"INSERT","record":)" + record + R"(,"errors":null})";
        ev.groups.push_back({ids, payloads::postgres_changes(ids, data)});
    }
    ev.notices = std::move(notices);
    return ev;
}

std::string record_of(const Out& o) {
    json::Document d;
    if (!json::parse(d, o.payload)) return "<bad>";
    return json::stringify(*json::member(*json::member(d, "data"), "record"));
}

}  // namespace

TEST_F(ChangesTest, EachGroupReachesItsOwnMembersWithItsOwnData) {
    Connection* a = connect(Vsn::V2);
    Connection* b = connect(Vsn::V1);
    pg_joined(a, "realtime:room1", "[" + kTodos + "]", {101});
    pg_joined(b, "realtime:room2", "[" + kTodos + "]", {201});
    take(*a);
    take(*b);
    hub->deliver_change(with_groups(0x1000, {{{101}, R"({"id":1,"secret":"s"})"}, {{201}, R"({"id":1})"}}));
    auto to_a = take(*a), to_b = take(*b);
    ASSERT_EQ(to_a.size(), 1u);
    EXPECT_EQ(record_of(to_a[0]), R"({"id":1,"secret":"s"})");
    ASSERT_EQ(to_b.size(), 1u);
    EXPECT_EQ(record_of(to_b[0]), R"({"id":1})");
    EXPECT_EQ(ids_of(to_b[0]), "[201]");
}

TEST_F(ChangesTest, AMemberInTwoGroupsGetsEachWithItsOwnIds) {
    Connection* a = connect(Vsn::V2);
    pg_joined(a, "realtime:room1", "[" + kTodos + "," + kNotes + "]", {101, 102});
    take(*a);
    hub->deliver_change(with_groups(0x1000, {{{101, 301}, R"({"id":1,"x":2})"}, {{102}, R"({"id":1})"}}));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(ids_of(out[0]), "[101]");
    EXPECT_EQ(record_of(out[0]), R"({"id":1,"x":2})");
    EXPECT_EQ(ids_of(out[1]), "[102]");
    EXPECT_EQ(record_of(out[1]), R"({"id":1})");
}

TEST_F(ChangesTest, ANoticeIsASystemErrorAndTheBindingGoesOn) {
    Connection* a = connect(Vsn::V2);
    pg_joined(a, "realtime:room1", "[" + kTodos + "]", {101});
    take(*a);
    hub->deliver_change(with_groups(0x1000, {}, {{101, "Row level security check timed out", false}}));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].raw,
              R"(["1",null,"realtime:room1","system",{"extension":"postgres_changes","status":"error","message":"Row level security check timed out","channel":"room1"}])");
    hub->deliver_change(with_groups(0x1001, {{{101}, R"({"id":2})"}}));
    EXPECT_EQ(take(*a).size(), 1u);
    EXPECT_TRUE(db.unsubscribes.empty());
}

TEST_F(ChangesTest, AnEndedBindingGetsNothingMoreAndItsRowGoesOnce) {
    Connection* a = connect(Vsn::V2);
    pg_joined(a, "realtime:room1", "[" + kTodos + "," + kNotes + "]", {101, 102});
    take(*a);
    hub->deliver_change(with_groups(0x1000, {{{102}, R"({"id":1})"}}, {{101, "permission denied for table todos", true}}));
    auto out = take(*a);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].event, "postgres_changes");
    EXPECT_EQ(out[1].event, "system");
    EXPECT_NE(out[1].payload.find("\"status\":\"error\""), std::string::npos);
    EXPECT_NE(out[1].payload.find("permission denied for table todos"), std::string::npos);
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{101}));

    hub->deliver_change(with_groups(0x1001, {{{101, 102}, R"({"id":2})"}}));
    out = take(*a);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(ids_of(out[0]), "[102]") << "101 ended";
    broadcast(a, "realtime:room1", "still", "{}");
    EXPECT_EQ(cluster.broadcasts.size(), 1u) << "the channel itself goes on";

    send(a, msg(Vsn::V2, "1", "5", "realtime:room1", "phx_leave", "{}"));
    EXPECT_EQ(db.unsubscribed_ids(), (std::vector<int64_t>{101, 102})) << "101 is not removed twice";
}

TEST_F(ChangesTest, ChangesWhileTheJoinWaitsForTheClusterFollowTheReply) {
    cluster.auto_route = false;  // the peers have not confirmed the channel's route yet
    Connection* a = connect(Vsn::V2);
    JoinOpts o;
    o.postgres_changes = "[" + kTodos + "]";
    join(a, "realtime:room1", o, "1");
    hub->on_subscribe_result({db.subscribes.at(0).member_id, true, "", {101}});
    hub->deliver_change(subscribed({101}, 0x500, 0));
    hub->deliver_change(row({101}, 0x600, 0));
    hub->deliver_change(row({101}, 0x700, 0));
    EXPECT_TRUE(take(*a).empty()) << "no reply yet";
    hub->on_channel_routed("realtime:room1");
    auto out = take(*a);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].event, "phx_reply");
    EXPECT_EQ(out[1].event, "system");
    EXPECT_EQ(out[2].event, "postgres_changes");
    EXPECT_EQ(out[3].event, "postgres_changes");
}
