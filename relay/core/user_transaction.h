// Database work inside one transaction, optionally as a client's user (design 3.6):
// BEGIN, the user's role and request settings (realtime.set_user_context: SET LOCAL
// ROLE, request.jwt.claims, request.jwt.claim.sub, request.jwt.claim.role,
// realtime.topic, request.headers), any further settings, the work, then COMMIT or
// ROLLBACK. Everything the user context sets is local to the transaction, so nothing of
// one client's survives on the pooled connection. Pure logic over SqlSession.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "relay/core/sql_session.h"

namespace rt {

struct UserContext {
    std::string claims_json;          // the JWT's claims object; its "role" is the Postgres role
    std::string topic;                // realtime.topic ("" when none)
    std::string headers_json = "{}";  // request.headers
    // Further settings for the transaction: set_config(name, value, true) each, in order.
    std::vector<std::pair<std::string, std::string>> settings;
};

enum class TxEnd : uint8_t { Commit, Rollback };

// The statements of a transaction. False (with error filled) rolls it back.
using TxWork = std::function<bool(SqlSession&, DbError&)>;

// BEGIN; work; then COMMIT when end is Commit and everything succeeded, else ROLLBACK.
// Returns the first error (kind None when none).
DbError in_transaction(SqlSession& s, TxEnd end, const TxWork& work);

// in_transaction, with the transaction switched to ctx's user before work runs. An
// unusable role (none, empty, "none", unknown, or one the relay may not SET ROLE to)
// fails with Postgres' error before any work.
DbError as_user(SqlSession& s, const UserContext& ctx, TxEnd end, const TxWork& work);

}  // namespace rt
