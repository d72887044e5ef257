// Token checks of joins, refreshes and expiry.
#include "relay/hub/auth.h"

#include "relay/protocol/errors.h"

namespace rt {

namespace {

// Supabase's publishable and secret API keys ("sb_publishable_...") are not JWTs: a join
// or refresh that sends one as its token keeps the socket's.
bool api_key(std::string_view token) { return token.substr(0, 3) == "sb_"; }

const char* join_code(JwtError code) {
    switch (code) {
        case JwtError::Malformed: return errors::kMalformedJwtPrefix;
        case JwtError::NoSigner: return errors::kJwtSignerErrorPrefix;
        case JwtError::BadSignature: return errors::kJwtSignatureErrorPrefix;
        default: return errors::kInvalidJwtPrefix;
    }
}

}  // namespace

std::string Auth::reason(const JwtResult& r, int64_t now_s) {
    return r.code == JwtError::Expired ? errors::token_expired(now_s - r.claims.exp) : r.error;
}

std::string Auth::join_refusal(const JwtResult& r, int64_t now_s) { return join_code(r.code) + reason(r, now_s); }

std::optional<JoinIdentity> Auth::join_identity(const Connection& conn, std::string_view given, int64_t now_s,
                                                std::string& refusal) const {
    JoinIdentity id;
    id.token = conn.token;
    id.claims = conn.claims;
    if (!given.empty() && given != conn.token && !api_key(given)) {
        JwtResult r = jwt_.verify(given, now_s);
        if (!r.ok) {
            refusal = join_refusal(r, now_s);
            return std::nullopt;
        }
        id.own_claims = std::make_unique<Claims>(r.claims);
        id.claims = r.claims;
        id.token = std::string(given);
    } else if (!jwt_.still_signed(id.claims)) {
        refusal = errors::kJwtSignerErrorPrefix + JwtVerifier::no_signer(id.claims.kid);
        return std::nullopt;
    } else if (id.claims.exp <= now_s) {
        refusal = errors::kInvalidJwtPrefix + errors::token_expired(now_s - id.claims.exp);
        return std::nullopt;
    }
    return id;
}

bool Auth::refresh(Member& m, const json::Value* payload, int64_t now_s, std::string& why) const {
    const json::Value* t = payload ? json::member(*payload, "access_token") : nullptr;
    if (!t || t->IsNull()) return true;
    if (!t->IsString()) return true;  // Supabase answers nothing else either
    std::string_view token = json::string_or(t, "");
    if (token.empty()) {  // Supabase reads "" as a token, and it is not a valid one
        why = errors::kJwtMalformed;
        return false;
    }
    if (token == m.access_token || api_key(token)) return true;
    JwtResult r = jwt_.verify(token, now_s);
    if (!r.ok) {
        why = reason(r, now_s);
        return false;
    }
    m.access_token = std::string(token);
    m.token_exp = r.claims.exp;
    m.own_claims = std::make_unique<Claims>(std::move(r.claims));
    return true;
}

std::optional<std::string> Auth::expired(const Member& m, int64_t now_s) {
    if (!m.joined || m.token_exp > now_s) return std::nullopt;
    return errors::token_expired(now_s - m.token_exp);
}

std::optional<std::string> Auth::revoked(const Member& m) const {
    if (!m.joined || jwt_.still_signed(m.claims())) return std::nullopt;
    return JwtVerifier::no_signer(m.claims().kid);
}

}  // namespace rt
