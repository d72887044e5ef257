// relay/hub/auth: access_token refreshes and the expiry of a member's token.
#include "hub_fixture.h"

using namespace rt;
using namespace rt::testing;

using AuthTest = HubTest;

TEST_F(AuthTest, AccessTokenRefreshValidHasNoReplyAndExtendsTheChannel) {
    Connection* c = connect(Vsn::V2, "user-1", 60);
    joined(c, "realtime:room1");
    std::string fresh = token_for("authenticated", "user-1", wall() + 7200);
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", "{\"access_token\":" + q(fresh) + "}"));
    EXPECT_TRUE(take(*c).empty());
    // Past the first token's expiry, the channel lives on the new token.
    advance_ms(120'000);
    send(c, R"([null,"3","phoenix","heartbeat",{}])");  // keep the socket from idling
    take(*c);
    hub->tick();
    EXPECT_TRUE(take(*c).empty());
    EXPECT_TRUE(hub->has_channel("realtime:room1"));
}

TEST_F(AuthTest, AccessTokenInvalidClosesTheChannel) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1", {}, "1");
    std::string forged = sign_hs256(R"({"role":"anon","exp":9999999999})", "wrong");
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", "{\"access_token\":" + q(forged) + "}"));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].raw,
              R"(["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Failed to validate JWT signature","channel":"room1"}])");
    EXPECT_EQ(out[1].raw, R"(["1","1","realtime:room1","phx_close",{}])");
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
}

TEST_F(AuthTest, AccessTokenExpiredSaysHowLongAgo) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    std::string old = token_for("authenticated", "user-1", wall() - 42);
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", "{\"access_token\":" + q(old) + "}"));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].event, "system");
    EXPECT_NE(out[0].payload.find("Token has expired 42 seconds ago"), std::string::npos) << out[0].payload;
    EXPECT_EQ(out[1].event, "phx_close");
}

TEST_F(AuthTest, AccessTokenNullOrSameIsIgnored) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", R"({"access_token":null})"));
    send(c, msg(Vsn::V2, "1", "3", "realtime:room1", "access_token", "{\"access_token\":" + q(c->token) + "}"));
    EXPECT_TRUE(take(*c).empty());
    EXPECT_TRUE(hub->has_channel("realtime:room1"));
}

TEST_F(AuthTest, TickClosesChannelsWhoseTokenExpired) {
    Connection* c = connect(Vsn::V2, "user-1", 10);
    joined(c, "realtime:room1", {}, "1");
    advance_ms(5000);
    hub->tick();
    EXPECT_TRUE(take(*c).empty());
    advance_ms(15000);  // now 10 s past exp
    hub->tick();
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].raw,
              R"(["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Token has expired 10 seconds ago","channel":"room1"}])");
    EXPECT_EQ(out[1].raw, R"(["1","1","realtime:room1","phx_close",{}])");
    EXPECT_FALSE(hub->has_channel("realtime:room1"));
    EXPECT_TRUE(transport.closes.empty()) << "the channel closes, not the socket";
}
