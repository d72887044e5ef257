// relay/core/topic: the one "realtime:" rule.
#include <gtest/gtest.h>

#include "relay/core/topic.h"

using namespace rt;

TEST(Topic, ChannelTopicsHaveThePrefix) {
    EXPECT_TRUE(topic::is_channel("realtime:room"));
    EXPECT_TRUE(topic::is_channel("realtime:"));
    EXPECT_FALSE(topic::is_channel("room"));
    EXPECT_FALSE(topic::is_channel("realtime"));
    EXPECT_FALSE(topic::is_channel("phoenix"));
    EXPECT_TRUE(topic::is_unnamed("realtime:"));
    EXPECT_FALSE(topic::is_unnamed("realtime:x"));
}

TEST(Topic, SubTopicAndBack) {
    EXPECT_EQ(topic::sub_topic("realtime:room"), "room");
    EXPECT_EQ(topic::sub_topic("room"), "room");
    EXPECT_EQ(topic::of("room"), "realtime:room");
    EXPECT_EQ(topic::of("realtime:room"), "realtime:realtime:room");  // a name is taken as given
    EXPECT_EQ(topic::normalize("room"), "realtime:room");
    EXPECT_EQ(topic::normalize("realtime:room"), "realtime:room");
}

TEST(Topic, ChannelKeyKeepsPrivateApart) {
    EXPECT_EQ(topic::channel_key("realtime:room", false), "realtime:room");
    EXPECT_EQ(topic::channel_key("realtime:room", true), "private:realtime:room");
    EXPECT_NE(topic::channel_key("realtime:private:realtime:room", false), topic::channel_key("realtime:room", true));
}
