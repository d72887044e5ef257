// JWT verification: the token's parts, the key for its header, the claims.
#include "relay/protocol/jwt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "relay/core/json.h"
#include "relay/protocol/base64url.h"

namespace rt {
namespace {

JwtResult refuse(JwtError code, std::string message) {
    JwtResult r;
    r.code = code;
    r.error = std::move(message);
    return r;
}

// The three parts of a compact JWS, decoded: header and claims parsed as JSON objects
// that repeat no member name.
struct Parts {
    std::string_view signing_input;  // header.claims, as the signature covers them
    json::Document header, claims;
    std::string signature;
};

bool split(std::string_view token, Parts& p) {
    size_t dot1 = token.find('.');
    size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) return false;
    std::string header_text, claims_text;
    if (!base64url::decode(token.substr(0, dot1), header_text) ||
        !base64url::decode(token.substr(dot1 + 1, dot2 - dot1 - 1), claims_text) ||
        !base64url::decode(token.substr(dot2 + 1), p.signature))
        return false;
    p.signing_input = token.substr(0, dot2);
    return json::parse(p.header, header_text, nullptr, json::Keys::Unique) && p.header.IsObject() &&
           json::parse(p.claims, claims_text, nullptr, json::Keys::Unique) && p.claims.IsObject();
}

// A NumericDate in whole seconds; far-future values (1e20, a uint64) are clamped, since
// converting them is undefined.
int64_t seconds(const json::Value& v) {
    if (v.IsInt64()) return v.GetInt64();
    double d = v.GetDouble();
    return d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : static_cast<int64_t>(d);
}

// The claims of a token whose signature holds: nbf and iat numbers when present (as
// Supabase's iat validator), role and exp required, then exp and nbf against the clock.
JwtResult check_claims(const json::Document& claims, int64_t now_s) {
    const json::Value* role = json::member(claims, "role");
    const json::Value* exp = json::member(claims, "exp");
    const json::Value* nbf = json::member(claims, "nbf");
    const json::Value* iat = json::member(claims, "iat");
    if ((nbf && !nbf->IsNumber()) || (iat && !iat->IsNumber())) return refuse(JwtError::Malformed, errors::kJwtMalformed);
    if (!role || !role->IsString() || role->GetStringLength() == 0 || !exp || !exp->IsNumber())
        return refuse(JwtError::MissingClaims, errors::kJwtMissingClaims);

    JwtResult r;
    r.claims.exp = seconds(*exp);
    r.claims.role = role->GetString();
    r.claims.sub = std::string(json::string_or(json::member(claims, "sub"), ""));
    r.claims.json = json::stringify(claims);
    // Claims stay filled when refused: callers say how long ago it expired.
    if (r.claims.exp <= now_s) {
        r.code = JwtError::Expired;
        r.error = errors::kJwtExpired;
    } else if (nbf && seconds(*nbf) > now_s) {
        r.code = JwtError::NotYetValid;
        r.error = errors::token_not_yet_valid(seconds(*nbf) - now_s);
    } else {
        r.ok = true;
    }
    return r;
}

}  // namespace

JwtVerifier::JwtVerifier(std::string secret, std::shared_ptr<const Jwks> jwks)
    : secret_(JwsKey::hmac(std::move(secret))), jwks_(std::move(jwks)) {}

// As Supabase chooses: a kid names a JWKS key of the alg's type; an HS* token whose kid
// names no "oct" key, or that has no kid, uses --jwt-secret. A token without kid may use
// the only JWKS key of its type. A public key never verifies an HMAC: it is not an oct key.
const JwsKey* JwtVerifier::key_for(const JwsAlg& alg, std::string_view kid, bool has_kid) const {
    if (has_kid && jwks_)
        if (const JwsKey* k = jwks_->by_kid(kid, alg)) return k;
    if (alg.key_type == KeyType::Oct && secret_) return secret_.get();
    if (!has_kid && jwks_) return jwks_->only(alg);
    return nullptr;
}

JwtResult JwtVerifier::verify(std::string_view token, int64_t now_s) const {
    if (token.empty()) return refuse(JwtError::Missing, errors::kJwtMissing);
    Parts p;
    if (!split(token, p)) return refuse(JwtError::Malformed, errors::kJwtMalformed);

    const json::Value* kid = json::member(p.header, "kid");
    if (kid && !kid->IsString()) return refuse(JwtError::Malformed, errors::kJwtMalformed);
    const JwsAlg* alg = find_alg(json::string_or(json::member(p.header, "alg"), ""));
    const JwsKey* key = alg ? key_for(*alg, json::string_or(kid, ""), kid != nullptr) : nullptr;
    std::optional<std::string> kid_text;
    if (kid) kid_text = std::string(json::string_or(kid, ""));
    if (!key) return refuse(JwtError::NoSigner, no_signer(alg ? kid_text : std::nullopt));
    if (!key->verify(*alg, p.signing_input, p.signature)) return refuse(JwtError::BadSignature, errors::kJwtBadSignature);
    JwtResult r = check_claims(p.claims, now_s);
    if (key != secret_.get()) r.claims.key_id = key->id();
    r.claims.kid = std::move(kid_text);
    return r;
}

bool JwtVerifier::still_signed(const Claims& claims) const {
    if (claims.key_id.empty()) return true;  // --jwt-secret, which only a restart changes
    if (!jwks_) return false;
    for (const auto& k : jwks_->keys)
        if (k->id() == claims.key_id) return true;
    return false;
}

std::string JwtVerifier::no_signer(const std::optional<std::string>& kid) {
    if (!kid) return errors::kJwtNoSigner;
    std::string quoted;
    json::append_string(quoted, *kid);
    return errors::jwt_no_signer_for(quoted);
}

std::string sign_hs256(std::string_view claims_json, std::string_view secret) {
    std::string signing_input =
        base64url::encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url::encode(claims_json);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac, &len);
    return signing_input + "." + base64url::encode(std::string_view(reinterpret_cast<char*>(mac), len));
}

bool same_grant(std::string_view claims_a, std::string_view claims_b) {
    return json::same_except(claims_a, claims_b, {"exp", "iat", "nbf", "jti"});
}

}  // namespace rt
