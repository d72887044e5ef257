// relay/hub/inspect: a node's answer to an inspector's question, from the hub's state.
#include "hub_fixture.h"

using namespace rt;
using namespace rt::testing;

namespace {

class InspectTest : public HubTest {
protected:
    json::Document answer(InspectQuery::Kind kind, std::string arg, uint32_t limit = 10) {
        json::Document d;
        std::string text = hub->inspect_local(InspectQuery{1, kind, std::move(arg), limit});
        EXPECT_TRUE(json::parse(d, text)) << text;
        return d;
    }
};

std::vector<std::string> topics(const json::Value& list) {
    std::vector<std::string> out;
    for (const auto& item : list.GetArray()) out.emplace_back(json::string_or(json::member(item, "topic"), ""));
    return out;
}

}  // namespace

TEST_F(InspectTest, ListsTheBusiestChannelsThatMatch) {
    Connection* a = connect(Vsn::V1);
    Connection* b = connect(Vsn::V2);
    Connection* c = connect(Vsn::V2);
    joined(a, "realtime:room-big");
    joined(b, "realtime:room-big");
    joined(c, "realtime:room-big");
    joined(a, "realtime:room-small", {}, "2");
    joined(b, "realtime:other", {}, "3");
    broadcast(b, "realtime:other", "e", "{}", "9", "3");

    json::Document d = answer(InspectQuery::Kind::Channels, "ROOM");  // case-folded
    EXPECT_EQ(json::string_or(json::member(d, "node"), ""), "node-a");
    EXPECT_EQ(json::member(d, "channels")->GetUint64(), 3u);
    EXPECT_EQ(json::member(d, "matched")->GetUint64(), 2u);
    const json::Value& list = *json::member(d, "list");
    EXPECT_EQ(topics(list), (std::vector<std::string>{"realtime:room-big", "realtime:room-small"}));
    EXPECT_EQ(json::member(list[0], "members")->GetUint64(), 3u);

    json::Document top1 = answer(InspectQuery::Kind::Channels, "", 1);
    EXPECT_EQ(topics(*json::member(top1, "list")), std::vector<std::string>{"realtime:room-big"});
    EXPECT_EQ(json::member(top1, "matched")->GetUint64(), 3u);
    json::Document all = answer(InspectQuery::Kind::Channels, "", 5);
    const json::Value& l = *json::member(all, "list");
    // Equal members (1 each): the one with a broadcast first.
    EXPECT_EQ(topics(l), (std::vector<std::string>{"realtime:room-big", "realtime:other", "realtime:room-small"}));
    EXPECT_EQ(json::member(l[1], "broadcasts")->GetUint64(), 1u);
}

TEST_F(InspectTest, ChannelDetailHasMembersPresenceAndSubscriptions) {
    Connection* a = connect(Vsn::V2, "user-a");
    Connection* b = connect(Vsn::V1, "user-b", 3600, "anon");
    JoinOpts p;
    p.presence = true;
    p.key = "alice";
    joined(a, "realtime:room1", p);
    send(a, msg(Vsn::V2, "1", "2", "realtime:room1", "presence",
                R"({"type":"presence","event":"track","payload":{"name":"Alice"}})"));
    pg_joined(b, "realtime:room1", "[" + kTodos + "," + kNotes + "]", {11, 12});
    hub->apply_remote_presence("node-b", remote_entry("realtime:room1", 7, "bob", "ref-b"));

    json::Document d = answer(InspectQuery::Kind::Channel, "realtime:room1");
    EXPECT_EQ(json::member(d, "members")->GetUint64(), 2u);
    EXPECT_EQ(json::member(d, "presence")->GetUint64(), 1u) << "this node's own entries only";
    EXPECT_EQ(json::member(d, "bindings")->GetUint64(), 2u);
    const json::Value& members = *json::member(d, "member_list");
    ASSERT_EQ(members.Size(), 2u);
    EXPECT_EQ(json::string_or(json::member(members[0], "sub"), ""), "user-a");
    EXPECT_EQ(json::string_or(json::member(members[0], "vsn"), ""), "2.0.0");
    EXPECT_EQ(json::string_or(json::member(members[0], "presence_key"), ""), "alice");
    EXPECT_EQ(json::string_or(json::member(members[1], "role"), ""), "anon");
    const json::Value& subs = *json::member(d, "subscriptions");
    ASSERT_EQ(subs.Size(), 2u);
    // Grouped by (event, schema, table, filter, role), in that order.
    EXPECT_EQ(json::string_or(json::member(subs[0], "table"), ""), "todos");
    EXPECT_EQ(json::string_or(json::member(subs[1], "table"), ""), "notes");
    EXPECT_EQ(json::string_or(json::member(subs[1], "event"), ""), "INSERT");
    EXPECT_EQ(json::string_or(json::member(subs[1], "filter"), ""), "id=eq.1");
    EXPECT_EQ(json::string_or(json::member(subs[1], "role"), ""), "anon");
    EXPECT_EQ(json::member(subs[1], "members")->GetUint64(), 1u);
    const json::Value& pres = *json::member(d, "presence_list");
    ASSERT_EQ(pres.Size(), 1u);
    EXPECT_EQ(json::string_or(json::member(pres[0], "key"), ""), "alice");
    EXPECT_EQ(json::string_or(json::member(*json::member(pres[0], "meta"), "name"), ""), "Alice");
}

TEST_F(InspectTest, UnknownChannelIsEmpty) {
    json::Document d = answer(InspectQuery::Kind::Channel, "realtime:nobody");
    EXPECT_EQ(json::member(d, "members")->GetUint64(), 0u);
    EXPECT_EQ(json::member(d, "member_list")->Size(), 0u);
    EXPECT_EQ(json::member(d, "subscriptions")->Size(), 0u);
}

// Found by fuzz_hub: a peer's question naming a key that is not UTF-8 was echoed as it
// was, and the answer was not JSON the asker could read.
TEST_F(InspectTest, AKeyThatIsNotUtf8NamesNoChannelAndIsNotEchoed) {
    json::Document d = answer(InspectQuery::Kind::Channel, "realtime:\"b\"x\xd3");
    EXPECT_EQ(json::member(d, "members")->GetUint64(), 0u);
    EXPECT_STREQ(json::member(d, "key")->GetString(), "");
}

TEST_F(InspectTest, PeersAreAskedAndAnsweredThroughTheClusterPort) {
    joined(connect(Vsn::V1), "realtime:room1");
    EXPECT_TRUE(hub->ask_peers(InspectQuery{5, InspectQuery::Kind::Channels, "", 3}));
    ASSERT_EQ(cluster.asked.size(), 1u);
    EXPECT_EQ(cluster.asked[0].id, 5u);
    hub->answer_inspect("node-b", InspectQuery{9, InspectQuery::Kind::Channel, "realtime:room1", 0});
    ASSERT_EQ(cluster.answers.size(), 1u);
    EXPECT_EQ(cluster.answers[0].first, "node-b");
    EXPECT_EQ(cluster.answers[0].second.id, 9u);
    EXPECT_NE(cluster.answers[0].second.json.find("\"members\":1"), std::string::npos);
}
