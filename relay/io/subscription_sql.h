// The statements behind Postgres Changes subscriptions, over a SqlSession (no I/O of
// their own): a join's rows through realtime.subscribe (one transaction; a binding the
// database refuses is undone alone and told to its client), their removal, and this
// node's rows left by a previous run. They run on the database pool (io/db_pool).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "relay/core/events.h"
#include "relay/core/park_marks.h"
#include "relay/core/sql_session.h"

namespace rt::subscription_sql {

// The extension is installed in the session's database; else false with a reason.
bool check_extension(SqlSession& s, std::string& error);

// One row per binding, in one transaction, as the claims' role. A binding Postgres refuses
// gets id 0 and its message in r.errors (Supabase's text); a timeout or an unreachable
// database fails the whole join (r.ok false, r.error the client's message).
SubscribeResult subscribe(SqlSession& s, const std::string& node_id, const std::vector<BindingSpec>& bindings,
                          const std::string& claims_json);

// The rows a dead node left for these bindings and this user, moved to node_id in one
// transaction (realtime.adopt), all or none: r.adopted with their ids; else nothing moved,
// and r.elsewhere when such rows are on a node that still beats. An error is no adoption.
// r.lost_since_s: the earliest time one of the moved rows was parked on its dead node.
SubscribeResult adopt(SqlSession& s, const std::string& node_id, const std::vector<BindingSpec>& bindings,
                      const AdoptAs& as);

// Removes these rows; false with error when the statement failed.
// A refreshed token's claims for the rows ids (realtime.update_claims, autocommit): the
// bindings that end (the new role may not have them; their rows are deleted), each with
// its message. If the statement itself fails, every id ends (the claims of the rows are
// not known to be the token's): with errors::claims_not_updated.
std::vector<BindingNotice> update_claims(SqlSession& s, const std::vector<int64_t>& ids, const std::string& claims_json);

bool unsubscribe(SqlSession& s, const std::vector<int64_t>& ids, DbError& error);

// Records which of node_id's rows are parked since when, and which no longer
// (realtime.mark_parked, one statement, autocommit).
bool mark_parked(SqlSession& s, const std::string& node_id, const ParkMarks::Batch& batch, DbError& error);

// This node's rows (a previous run's).
bool orphans(SqlSession& s, const std::string& node_id, std::vector<OrphanRow>& rows, DbError& error);

}  // namespace rt::subscription_sql
