// The statement of the check step (docs/architecture.md, "Row level security and column
// views in the document"): one realtime.check_rows call for a batch of documents, in a
// transaction that is always rolled back, with its own statement timeout. Pure logic
// over SqlSession (no I/O of its own); it runs on the database pool (slot/check_pool).
#pragma once

#include "relay/core/sql_session.h"
#include "relay/slot/check_batcher.h"

namespace rt::check_sql {

// The call's outcome: the rows realtime.check_rows returned, or why it failed (the
// message each candidate is told).
CheckOutcome check_rows(SqlSession& s, const CheckCall& call, int timeout_ms);

}  // namespace rt::check_sql
