// The relay's token rules, in one place: the JWT check of a WebSocket upgrade and of the
// REST API, a join's own access_token, a member's access_token refresh, and the expiry
// of a member's token, each with Supabase's wording for where it is refused. The one
// verifier of the process lives here, with its keys (a reloaded JWKS file replaces them
// through set_jwks). Pure logic over the verifier; the clock is the caller's.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "relay/hub/model.h"
#include "relay/protocol/jwt.h"

namespace rt {

// Who a join acts as: the socket's token and claims, or the join's own.
struct JoinIdentity {
    std::string token;
    Claims claims;
    std::unique_ptr<Claims> own_claims;  // set when the join brought its own token
};

class Auth {
public:
    explicit Auth(std::string secret) : jwt_(std::move(secret)) {}
    void set_jwks(std::shared_ptr<const Jwks> jwks) { jwt_.set_jwks(std::move(jwks)); }

    // A token as presented (upgrade, REST API): error holds Supabase's message.
    JwtResult verify(std::string_view token, int64_t now_s) const { return jwt_.verify(token, now_s); }

    // The identity of a join on conn that may carry its own token (given; empty or an
    // "sb_" API key: none); nullopt with the refusal (Supabase's code, e.g.
    // "InvalidJWTToken: ", then the reason) when the token is not valid now (expired,
    // or its key no longer in the JWKS).
    std::optional<JoinIdentity> join_identity(const Connection& conn, std::string_view given, int64_t now_s,
                                              std::string& refusal) const;

    // An access_token push: a new valid token replaces the member's; false with the reason
    // the channel must close for when it is not valid ("" is not). An absent, null or
    // unchanged token, or an "sb_" API key, is ignored (true).
    bool refresh(Member& m, const json::Value* payload, int64_t now_s, std::string& why) const;

    // The member's token expired: the reason its channel closes with, else nullopt.
    static std::optional<std::string> expired(const Member& m, int64_t now_s);
    // The key that verified the member's token is gone from the JWKS: the reason its
    // channel closes with, else nullopt.
    std::optional<std::string> revoked(const Member& m) const;

private:
    // Supabase's reason for a refused token: "Token has expired N seconds ago" or the error.
    static std::string reason(const JwtResult& r, int64_t now_s);
    // The same at a join, after Supabase's code for it.
    static std::string join_refusal(const JwtResult& r, int64_t now_s);

    JwtVerifier jwt_;
};

}  // namespace rt
