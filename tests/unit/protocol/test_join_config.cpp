// relay/protocol/join_config: a phx_join payload read into flags, a token and bindings.
#include <gtest/gtest.h>

#include "relay/protocol/join_config.h"

using namespace rt;

namespace {

JoinConfig read(const char* text) {
    json::Document d;
    EXPECT_TRUE(json::parse(d, text)) << text;
    return parse_join_config(&d);
}

}  // namespace

TEST(JoinConfig, DefaultsWithoutConfig) {
    JoinConfig c = parse_join_config(nullptr);
    EXPECT_FALSE(c.self || c.ack || c.replication_ready || c.presence_enabled || c.is_private);
    EXPECT_TRUE(c.presence_key.empty());
    EXPECT_TRUE(c.access_token.empty());
    EXPECT_TRUE(c.bindings.empty());
    EXPECT_TRUE(c.bindings_error.empty());
    EXPECT_TRUE(read("{}").bindings_error.empty());
}

TEST(JoinConfig, FlagsKeyTokenAndPrivateAsString) {
    JoinConfig c = read(R"({"config":{"broadcast":{"self":true,"ack":"true","replication_ready":true},
        "presence":{"enabled":true,"key":"k1"},"private":"true"},"access_token":"tok"})");
    EXPECT_TRUE(c.self && c.ack && c.replication_ready && c.presence_enabled && c.is_private);
    EXPECT_EQ(c.presence_key, "k1");
    EXPECT_EQ(c.access_token, "tok");
}

TEST(JoinConfig, UserTokenStandsForAccessTokenAsSupabaseReadsThem) {
    EXPECT_EQ(read(R"({"user_token":"u"})").access_token, "u");
    EXPECT_EQ(read(R"({"access_token":"a","user_token":"u"})").access_token, "u") << "user_token wins";
    EXPECT_EQ(read(R"({"access_token":null,"user_token":"u"})").access_token, "u");
    EXPECT_EQ(read(R"({"access_token":"a","user_token":7})").access_token, "a");
    // An API key where Supabase looks first means the socket's token (hub/auth skips "sb_").
    EXPECT_EQ(read(R"({"access_token":"sb_publishable_x","user_token":"u"})").access_token, "sb_publishable_x");
    EXPECT_EQ(read(R"({"user_token":"sb_publishable_x"})").access_token, "sb_publishable_x");
    EXPECT_EQ(read(R"({"access_token":"a","user_token":"sb_x"})").access_token, "sb_x");
}

TEST(JoinConfig, BindingsWithDefaultsAndEcho) {
    JoinConfig c = read(R"({"config":{"postgres_changes":[{"event":"insert","table":"todos","filter":"id=eq.1"},
        {"table":"notes","schema":"app","event":"TRUNCATE"}]}})");
    ASSERT_EQ(c.bindings.size(), 2u);
    EXPECT_EQ(c.bindings[0].spec.event, "INSERT");
    EXPECT_EQ(c.bindings[0].spec.schema, "public");
    EXPECT_EQ(c.bindings[0].spec.filter, "id=eq.1");
    EXPECT_EQ(c.bindings[0].echo_json, R"({"event":"insert","table":"todos","filter":"id=eq.1"})");
    EXPECT_EQ(c.bindings[1].spec.event, "*");  // anything else listens to every event
    EXPECT_EQ(c.bindings[1].spec.schema, "app");
}

TEST(JoinConfig, AnEntryThatIsNotAnObjectRefusesTheJoin) {
    EXPECT_NE(read(R"({"config":{"postgres_changes":[1]}})").bindings_error.find("must be an object"), std::string::npos);
}

TEST(JoinConfig, NullEntriesAreDroppedAndANonListIsNoBindings) {
    for (const char* text : {R"({"config":{"postgres_changes":[null]}})", R"({"config":{"postgres_changes":[null,null]}})",
                             R"({"config":{"postgres_changes":{"event":"*"}}})", R"({"config":{"postgres_changes":"x"}})"}) {
        JoinConfig c = read(text);
        EXPECT_TRUE(c.bindings.empty()) << text;
        EXPECT_TRUE(c.bindings_error.empty()) << text;
    }
    JoinConfig c = read(R"({"config":{"postgres_changes":[null,{"table":"t"},null]}})");
    ASSERT_EQ(c.bindings.size(), 1u);
    EXPECT_EQ(c.bindings[0].spec.table, "t");
}

TEST(JoinConfig, ABindingThatCannotBeSubscribedIsKeptWithItsError) {
    JoinConfig c = read(R"({"config":{"postgres_changes":[{"table":"t","filter":"x=foo.1"},{"table":"*","select":["a"]},
        {"event":"*"},{"table":"t","select":"a"}]}})");
    ASSERT_EQ(c.bindings.size(), 4u);
    EXPECT_TRUE(c.bindings_error.empty());
    EXPECT_EQ(c.bindings[0].error, R"(Error parsing `filter` params: ["foo", "1"])");
    EXPECT_NE(c.bindings[1].error.find("not supported for wildcard subscriptions"), std::string::npos);
    EXPECT_EQ(c.bindings[2].error.rfind("No subscription params provided.", 0), 0u);
    EXPECT_EQ(c.bindings[3].error.rfind("Error parsing `select` params: expected a list", 0), 0u);
    EXPECT_EQ(c.bindings[0].echo_json, R"({"table":"t","filter":"x=foo.1"})");
}

TEST(JoinConfig, BooleansInAnyCase) {
    JoinConfig c = read(R"({"config":{"broadcast":{"self":"True","ack":"TRUE"},"presence":{"enabled":"tRuE"},
        "private":"False"}})");
    EXPECT_TRUE(c.self && c.ack && c.presence_enabled);
    EXPECT_FALSE(c.is_private);
    EXPECT_FALSE(read(R"({"config":{"broadcast":{"self":"yes"}}})").self);
}

TEST(JoinConfig, APresenceKeyMayBeANumber) {
    EXPECT_EQ(read(R"({"config":{"presence":{"key":123}}})").presence_key, "123");
    EXPECT_EQ(read(R"({"config":{"presence":{"key":1.5}}})").presence_key, "1.5");
    EXPECT_EQ(read(R"({"config":{"presence":{"key":{}}}})").presence_key, "");
}

TEST(JoinConfig, UserTokenStandsForAccessTokenAndComesFirst) {
    EXPECT_EQ(read(R"({"user_token":"u"})").access_token, "u");
    EXPECT_EQ(read(R"({"access_token":"a","user_token":"u"})").access_token, "u");
    EXPECT_EQ(read(R"({"access_token":"a","user_token":5})").access_token, "a");
}

// config.broadcast.replay as Supabase reads it: any value asks (a public channel is
// refused), an object replays; since must be an integer, limit an integer or absent.
TEST(JoinConfig, Replay) {
    EXPECT_FALSE(read(R"({"config":{"broadcast":{}}})").replay.asked);
    ReplayConfig r = read(R"({"config":{"broadcast":{"replay":null}}})").replay;
    EXPECT_TRUE(r.asked);
    EXPECT_FALSE(r.requested);
    r = read(R"({"config":{"broadcast":{"replay":{"since":1700000000000,"limit":3}}}})").replay;
    EXPECT_TRUE(r.requested && r.valid);
    EXPECT_EQ(r.since, 1700000000000);
    EXPECT_EQ(r.limit, 3);
    r = read(R"({"config":{"broadcast":{"replay":{"since":0}}}})").replay;
    EXPECT_TRUE(r.valid);
    EXPECT_EQ(r.limit, 25);
    EXPECT_EQ(read(R"({"config":{"broadcast":{"replay":{"since":0,"limit":100}}}})").replay.limit, 25);
    EXPECT_EQ(read(R"({"config":{"broadcast":{"replay":{"since":0,"limit":-4}}}})").replay.limit, 1);
    EXPECT_EQ(read(R"({"config":{"broadcast":{"replay":{"since":0,"limit":18446744073709551615}}}})").replay.limit, 25);
    EXPECT_EQ(read(R"({"config":{"broadcast":{"replay":{"since":0,"limit":false}}}})").replay.limit, 25);
    for (const char* bad : {R"({"limit":3})", R"({"since":"0"})", R"({"since":1.5})", R"({"since":0,"limit":"2"})",
                            R"({"since":0,"limit":2.0})"}) {
        std::string payload = std::string(R"({"config":{"broadcast":{"replay":)") + bad + "}}}";
        r = read(payload.c_str()).replay;
        EXPECT_TRUE(r.requested) << bad;
        EXPECT_FALSE(r.valid) << bad;
    }
}
