// relay/hub/auth: joins with their own token (Supabase's codes), access_token refreshes,
// the expiry of a member's token, and keys removed from the JWKS.
#include "hub_fixture.h"
#include "protocol/jose_fixtures.h"

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

TEST_F(AuthTest, AccessTokenNullSameOrNotAStringIsIgnored) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", R"({"access_token":null})"));
    send(c, msg(Vsn::V2, "1", "3", "realtime:room1", "access_token", "{\"access_token\":" + q(c->token) + "}"));
    send(c, msg(Vsn::V2, "1", "4", "realtime:room1", "access_token", R"({"access_token":42})"));
    send(c, msg(Vsn::V2, "1", "5", "realtime:room1", "access_token", R"({})"));
    EXPECT_TRUE(take(*c).empty());
    EXPECT_TRUE(hub->has_channel("realtime:room1"));
}

TEST_F(AuthTest, AccessTokenEmptyStringClosesTheChannelAsMalformed) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", R"({"access_token":""})"));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_NE(out[0].payload.find("\"message\":\"The token provided is not a valid JWT\""), std::string::npos)
        << out[0].payload;
    EXPECT_EQ(out[1].event, "phx_close");
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

// -- a join's own token: Supabase's code before each refusal ------------------------

class JoinTokenTest : public HubTest {
protected:
    std::string refusal(Connection* c, const std::string& token) {
        JoinOpts o;
        o.access_token = token;
        auto out = join(c, "realtime:room1", o);
        EXPECT_EQ(out.size(), 1u);
        if (out.empty()) return "";
        json::Document d;
        EXPECT_TRUE(json::parse(d, out[0].payload));
        EXPECT_EQ(json::string_or(json::member(d, "status"), ""), "error");
        const json::Value* response = json::member(d, "response");
        return std::string(json::string_or(response ? json::member(*response, "reason") : nullptr, ""));
    }
};

TEST_F(JoinTokenTest, RefusalsCarrySupabasesCodes) {
    Connection* c = connect(Vsn::V2);
    EXPECT_EQ(refusal(c, "potato"), "MalformedJWT: The token provided is not a valid JWT");
    EXPECT_EQ(refusal(c, sign_hs256(R"({"role":"anon","exp":9999999999})", "wrong")),
              "JwtSignatureError: Failed to validate JWT signature");
    EXPECT_EQ(refusal(c, sign_hs256(R"({"exp":9999999999})", kSecret)),
              "InvalidJWTToken: Fields `role` and `exp` are required in JWT");
    EXPECT_EQ(refusal(c, token_for("anon", "", wall() - 7)), "InvalidJWTToken: Token has expired 7 seconds ago");
    EXPECT_EQ(refusal(c, sign_hs256("{\"role\":\"anon\",\"exp\":9999999999,\"nbf\":" + std::to_string(wall() + 60) + "}",
                                    kSecret)),
              "InvalidJWTToken: Token is not valid yet: its nbf is 60 seconds in the future");
    EXPECT_EQ(refusal(c, sign_hs256(R"({"role":"anon","exp":9999999999,"role":"service_role"})", kSecret)),
              "MalformedJWT: The token provided is not a valid JWT");
    // alg none: no signer for it.
    std::string none = "eyJhbGciOiJub25lIn0." + sign_hs256(R"({"role":"anon","exp":9999999999})", kSecret).substr(37);
    none = none.substr(0, none.rfind('.') + 1);
    EXPECT_EQ(refusal(c, none), "JwtSignerError: Failed to generate JWT signer, check your JWT secret or JWKS configuration");
    EXPECT_EQ(hub->channel_count(), 0u);
}

TEST_F(JoinTokenTest, AnApiKeyAsTheTokenKeepsTheSocketsIdentity) {
    Connection* c = connect(Vsn::V2, "socket-user");
    JoinOpts o;
    o.access_token = "sb_publishable_abc123";
    auto out = join(c, "realtime:room1", o);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(compact(out[0].payload).substr(0, 14), R"({"status":"ok")") << out[0].raw;
    Member* m = c->member("realtime:room1");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->claims().sub, "socket-user");
    EXPECT_EQ(m->own_claims, nullptr);
    // And a refresh with one is ignored.
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", R"({"access_token":"sb_secret_xyz"})"));
    EXPECT_TRUE(take(*c).empty());
    EXPECT_TRUE(hub->has_channel("realtime:room1"));
}

TEST_F(AuthTest, AccessTokenNotYetValidClosesTheChannelSayingWhen) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    std::string early =
        sign_hs256("{\"role\":\"anon\",\"exp\":9999999999,\"nbf\":" + std::to_string(wall() + 90) + "}", kSecret);
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", "{\"access_token\":" + q(early) + "}"));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_NE(out[0].payload.find("\"message\":\"Token is not valid yet: its nbf is 90 seconds in the future\""),
              std::string::npos)
        << out[0].payload;
    EXPECT_EQ(out[1].event, "phx_close");
}

TEST_F(AuthTest, AccessTokenMalformedClosesTheChannelWithSupabasesText) {
    Connection* c = connect(Vsn::V2);
    joined(c, "realtime:room1");
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", R"({"access_token":"potato"})"));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_NE(out[0].payload.find("\"message\":\"The token provided is not a valid JWT\""), std::string::npos)
        << out[0].payload;
}

// -- a key removed from the JWKS ----------------------------------------------------

TEST_F(AuthTest, KeyRemovedFromTheJwksClosesTheChannelsItLetIn) {
    jose_test::KeyPair old_key("Ed25519"), new_key("Ed25519");
    auto jwks_of = [](const jose_test::KeyPair& k, const char* kid) {
        auto set = std::make_shared<Jwks>();
        std::vector<std::string> notes;
        std::string error;
        EXPECT_TRUE(parse_jwks("{\"keys\":[" + k.jwk(kid) + "]}", *set, notes, error)) << error;
        return set;
    };
    hub->set_jwks(jwks_of(old_key, "old"));
    std::string old_token = jose_test::token(old_key, "EdDSA", R"({"alg":"EdDSA","kid":"old"})",
                                             "{\"role\":\"anon\",\"exp\":" + std::to_string(wall() + 600) + "}");
    JwtResult r = hub->auth().verify(old_token, wall());
    ASSERT_TRUE(r.ok) << r.error;
    Connection* on_old = hub->open(nullptr, Vsn::V2, r.claims, old_token);
    Connection* on_secret = connect(Vsn::V2);
    joined(on_old, "realtime:room1", {}, "1");
    joined(on_secret, "realtime:room1", {}, "1");

    hub->set_jwks(jwks_of(new_key, "new"));
    auto out = take(*on_old);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].raw,
              R"(["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Failed to generate JWT signer for key ID (kid) \"old\", check your JWT secret or JWKS configuration","channel":"room1"}])");
    EXPECT_EQ(out[1].event, "phx_close");
    EXPECT_TRUE(take(*on_secret).empty()) << "a token of the secret is not affected";
    EXPECT_TRUE(hub->has_channel("realtime:room1"));
    EXPECT_TRUE(transport.closes.empty()) << "the channel closes, not the socket";

    // The socket's token no longer joins.
    auto refused = join(on_old, "realtime:room2");
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_NE(refused[0].payload.find(R"("reason":"JwtSignerError: Failed to generate JWT signer for key ID (kid) \"old\")"),
              std::string::npos)
        << refused[0].payload;
}

// Row level security follows a refreshed token: the channel's subscription rows take the
// new claims (after the client's earlier database work); the same token again, or a
// channel without bindings, asks nothing of the database.
TEST_F(AuthTest, AccessTokenRefreshGivesTheSubscriptionsTheNewClaims) {
    Connection* c = connect(Vsn::V2, "user-1", 60);
    pg_joined(c, "realtime:room1", "[" + kTodos + "," + kNotes + "]", {101, 102});
    take(*c);
    std::string fresh = token_for("authenticated", "user-2", wall() + 7200);
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", "{\"access_token\":" + q(fresh) + "}"));
    ASSERT_EQ(db.claims_updates.size(), 1u);
    EXPECT_EQ(db.claims_updates[0].client, c->id);
    EXPECT_EQ(db.claims_updates[0].ids, (std::vector<int64_t>{101, 102}));
    EXPECT_NE(db.claims_updates[0].claims_json.find("\"sub\":\"user-2\""), std::string::npos);
    send(c, msg(Vsn::V2, "1", "3", "realtime:room1", "access_token", "{\"access_token\":" + q(fresh) + "}"));
    EXPECT_EQ(db.claims_updates.size(), 1u) << "the same token again";
    joined(c, "realtime:room2", {}, "4");
    send(c, msg(Vsn::V2, "4", "5", "realtime:room2", "access_token", "{\"access_token\":" + q(fresh) + "}"));
    EXPECT_EQ(db.claims_updates.size(), 1u) << "no bindings";
}

// A binding the new token's role may not have ends: a system error for it, nothing more
// delivered to it; the channel's other binding keeps receiving.
TEST_F(AuthTest, ABindingTheNewRoleMayNotHaveEnds) {
    Connection* c = connect(Vsn::V2, "user-1", 60);
    pg_joined(c, "realtime:room1", "[" + kTodos + "," + kNotes + "]", {101, 102});
    take(*c);
    hub->end_bindings({{101, "Unable to subscribe to changes with the new access token: permission denied", true}});
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].event, "system");
    EXPECT_NE(out[0].payload.find(R"("extension":"postgres_changes","status":"error")"), std::string::npos);
    EXPECT_NE(out[0].payload.find("permission denied"), std::string::npos);
    std::string fresh = token_for("authenticated", "user-1", wall() + 7200);
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "access_token", "{\"access_token\":" + q(fresh) + "}"));
    ASSERT_EQ(db.claims_updates.size(), 1u);
    EXPECT_EQ(db.claims_updates[0].ids, (std::vector<int64_t>{102})) << "the ended binding has no row";
}
