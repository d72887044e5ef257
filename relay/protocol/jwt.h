// JWT verification as Supabase Realtime does it: structure, the key the header asks for
// (HS* with --jwt-secret or an "oct" JWK; RS*, ES*, EdDSA with a JWKS key, chosen by
// kid), the signature, then the claims (`role` and `exp` required, `nbf` honoured).
// Header and claims that repeat a member name are malformed. Pure logic, no I/O: the
// JWKS comes parsed (relay/protocol/jwks), and the clock is the caller's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "relay/protocol/errors.h"
#include "relay/protocol/jwks.h"

namespace rt {

struct Claims {
    std::string json;   // the claims object, compact JSON
    std::string role;
    std::string sub;    // empty when absent
    int64_t exp = 0;    // seconds since the epoch
    // What verified it: the id of the JWKS key (JwsKey::id), empty for --jwt-secret; and
    // the header's kid, for messages. A key gone from a reloaded JWKS revokes the token.
    std::string key_id;
    std::optional<std::string> kid;
};

// Why a token was refused; each has Supabase's message, and its code prefix at a join.
enum class JwtError : uint8_t {
    None,
    Missing,        // empty
    Malformed,      // not three base64url parts of JSON objects, a repeated member name
    NoSigner,       // no key for its alg and kid ("alg":"none" and unknown algs too)
    BadSignature,
    MissingClaims,  // role or exp
    Expired,
    NotYetValid,    // nbf in the future
};

struct JwtResult {
    bool ok = false;
    JwtError code = JwtError::None;
    std::string error;  // the message as the WebSocket upgrade answers it (errors::kJwt*)
    Claims claims;      // also filled for an expired or not yet valid, otherwise valid token
};

class JwtVerifier {
public:
    // Either may be absent (an empty secret is none); with neither every token is refused.
    explicit JwtVerifier(std::string secret, std::shared_ptr<const Jwks> jwks = nullptr);
    // A new key set (a reloaded JWKS file) for the tokens verified from now on.
    void set_jwks(std::shared_ptr<const Jwks> jwks) { jwks_ = std::move(jwks); }

    JwtResult verify(std::string_view token, int64_t now_s) const;
    // Whether claims verified here are still vouched for by a key of the current set.
    bool still_signed(const Claims& claims) const;
    // The refusal of a token whose key is gone: Supabase's "Failed to generate JWT
    // signer ..." for its kid.
    static std::string no_signer(const std::optional<std::string>& kid);

private:
    // The key that may verify a token of alg naming kid (empty: none), else nullptr.
    const JwsKey* key_for(const JwsAlg& alg, std::string_view kid, bool has_kid) const;

    std::shared_ptr<const JwsKey> secret_;
    std::shared_ptr<const Jwks> jwks_;
};

// Whether two claims objects grant the same: equal but for the claims that only say when
// a token is valid and which token it is (exp, iat, nbf, jti), the ones a refreshed token
// changes (supabase-js refreshes on wake). A parked subscription is adopted by such a
// token (docs/architecture.md, "Parked subscriptions"); realtime._lasting_claims in
// sql/subscribe.sql leaves out the same names.
bool same_grant(std::string_view claims_a, std::string_view claims_b);

// Signs claims_json with HS256 (tokens for the quick start, tests and benchmarks).
std::string sign_hs256(std::string_view claims_json, std::string_view secret);

}  // namespace rt
