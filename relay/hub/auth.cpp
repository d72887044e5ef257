// Token checks of joins, refreshes and expiry.
#include "relay/hub/auth.h"

#include "relay/protocol/errors.h"

namespace rt {

std::string Auth::reason(const JwtResult& r, int64_t now_s) {
    return r.error == errors::kJwtExpired ? errors::token_expired(now_s - r.claims.exp) : r.error;
}

std::optional<JoinIdentity> Auth::join_identity(const Connection& conn, std::string_view given, int64_t now_s,
                                                std::string& refusal) const {
    JoinIdentity id;
    id.token = conn.token;
    id.claims = conn.claims;
    if (!given.empty() && given != conn.token) {
        JwtResult r = jwt_.verify(given, now_s);
        if (!r.ok) {
            refusal = errors::kInvalidJwtPrefix + reason(r, now_s);
            return std::nullopt;
        }
        id.own_claims = std::make_unique<Claims>(r.claims);
        id.claims = r.claims;
        id.token = std::string(given);
    } else if (id.claims.exp <= now_s) {
        refusal = errors::kInvalidJwtPrefix + errors::token_expired(now_s - id.claims.exp);
        return std::nullopt;
    }
    return id;
}

bool Auth::refresh(Member& m, const json::Value* payload, int64_t now_s, std::string& why) const {
    const json::Value* t = payload ? json::member(*payload, "access_token") : nullptr;
    if (!t || t->IsNull()) return true;
    std::string_view token = json::string_or(t, "");
    if (token.empty() || token == m.access_token) return true;
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

}  // namespace rt
