// relay/inspector/merge: the cluster's answer from each node's part.
#include <gtest/gtest.h>

#include "relay/core/json.h"
#include "relay/inspector/merge.h"

using namespace rt;
using namespace rt::inspector;

TEST(Merge, ChannelsAddMembersPerNodeAndRankOverTheCluster) {
    std::string a = R"({"node":"a","channels":3,"matched":2,"list":[
        {"key":"realtime:x","topic":"realtime:x","private":false,"members":2,"presence":1,"bindings":0,"broadcasts":5},
        {"key":"realtime:y","topic":"realtime:y","private":false,"members":1,"presence":0,"bindings":2,"broadcasts":0}]})";
    std::string b = R"({"node":"b","channels":2,"matched":2,"list":[
        {"key":"realtime:y","topic":"realtime:y","private":false,"members":4,"presence":2,"bindings":1,"broadcasts":3},
        {"key":"private:realtime:y","topic":"realtime:y","private":true,"members":1,"presence":0,"bindings":0,"broadcasts":0}]})";
    json::Document d;
    ASSERT_TRUE(json::parse(d, merge_channels({a, b, "not json"}, {"c"}, "q", 10)));
    EXPECT_EQ(json::stringify(*json::member(d, "missing")), R"(["c"])");
    EXPECT_EQ(json::stringify(*json::member(d, "nodes")), R"({"a":{"channels":3,"matched":2},"b":{"channels":2,"matched":2}})");
    const json::Value& list = *json::member(d, "list");
    ASSERT_EQ(list.Size(), 3u) << "the private channel of y is a row of its own";
    EXPECT_EQ(json::string_or(json::member(list[2], "key"), ""), "private:realtime:y");
    EXPECT_TRUE(json::member(list[2], "private")->GetBool());
    EXPECT_EQ(json::stringify(*json::member(list[2], "members")), R"({"b":1})");
    EXPECT_FALSE(json::member(list[0], "private")->GetBool());
    EXPECT_EQ(json::string_or(json::member(list[0], "topic"), ""), "realtime:y");
    EXPECT_EQ(json::stringify(*json::member(list[0], "members")), R"({"a":1,"b":4})");
    EXPECT_EQ(json::member(list[0], "total")->GetUint64(), 5u);
    EXPECT_EQ(json::member(list[0], "presence")->GetUint64(), 2u);
    EXPECT_EQ(json::member(list[0], "bindings")->GetUint64(), 3u);
    EXPECT_EQ(json::member(list[0], "broadcasts")->GetUint64(), 3u) << "the most any node fanned out";

    json::Document one;
    ASSERT_TRUE(json::parse(one, merge_channels({a, b}, {}, "", 1)));
    EXPECT_EQ(json::member(one, "list")->Size(), 1u);
}

TEST(Merge, ChannelDetailTagsItemsWithTheirNode) {
    std::string a = R"({"node":"a","topic":"realtime:x","members":1,"broadcasts":2,"presence":1,"bindings":1,
        "member_list":[{"id":1,"role":"anon"}],
        "subscriptions":[{"event":"*","schema":"public","table":"t","filter":"","role":"anon","members":1,"live":1}],
        "presence_list":[{"key":"k1","phx_ref":"r1","meta":{"m":1}}]})";
    std::string b = R"({"node":"b","topic":"realtime:x","members":2,"broadcasts":2,"presence":0,"bindings":2,
        "member_list":[{"id":7,"role":"anon"},{"id":8,"role":"authenticated"}],
        "subscriptions":[{"event":"*","schema":"public","table":"t","filter":"","role":"anon","members":2,"live":1}],
        "presence_list":[]})";
    json::Document d;
    ASSERT_TRUE(json::parse(d, merge_channel({a, b}, {}, "realtime:x", false)));
    EXPECT_EQ(json::stringify(*json::member(d, "members")), R"({"a":1,"b":2})");
    EXPECT_EQ(json::member(d, "total")->GetUint64(), 3u);
    const json::Value& members = *json::member(d, "member_list");
    ASSERT_EQ(members.Size(), 3u);
    EXPECT_EQ(json::string_or(json::member(members[2], "node"), ""), "b");
    EXPECT_EQ(json::member(members[2], "id")->GetUint64(), 8u);
    const json::Value& subs = *json::member(d, "subscriptions");
    ASSERT_EQ(subs.Size(), 1u);
    EXPECT_EQ(json::stringify(*json::member(subs[0], "members")), R"({"a":1,"b":2})");
    EXPECT_EQ(json::member(subs[0], "live")->GetUint64(), 2u);
    const json::Value& pres = *json::member(d, "presence");
    EXPECT_EQ(json::member(pres, "entries")->GetUint64(), 1u);
    EXPECT_EQ(json::stringify(*json::member(pres, "list")), R"([{"node":"a","key":"k1","phx_ref":"r1","meta":{"m":1}}])");
}
