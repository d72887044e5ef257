// The statements of Realtime Authorization and replay, over a SqlSession (no I/O of their
// own): realtime.authorize (one statement in autocommit: each check runs in a
// subtransaction that is always rolled back), realtime.replay, and the retention of
// realtime.messages (realtime.maintain_messages). They run on the database pool.
#pragma once

#include <string>
#include <vector>

#include "relay/core/events.h"
#include "relay/core/sql_session.h"

namespace rt::authorization_sql {

// r.failure says why a check has no answer: Policy (it raised: error_code, e.g. 23514),
// Timeout, Unreachable, or Failed (the statement itself failed).
AccessResult authorize(SqlSession& s, const AccessCheck& check);

// The stored private broadcasts of q.topic, oldest first; InvalidParams for a since
// out of range (22023).
ReplayResult replay(SqlSession& s, const ReplayQuery& q);

// realtime.maintain_messages(retention_hours): (action, partition) per partition made,
// dropped or busy. False with error when the statement failed.
bool maintain_messages(SqlSession& s, int retention_hours, std::vector<std::pair<std::string, std::string>>& done,
                       DbError& error);

// Hex digits ("0102ff", encode(bytea, 'hex')) as bytes; false when they are not.
bool from_hex(const std::string& text, std::string& out);

}  // namespace rt::authorization_sql
