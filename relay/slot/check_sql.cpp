// realtime.check_rows on a pool session.
#include "relay/slot/check_sql.h"

#include <cstdlib>

#include "relay/core/pg_array.h"
#include "relay/core/user_transaction.h"
#include "relay/protocol/errors.h"

namespace rt::check_sql {
namespace {

std::string outcome_error(const DbError& e, int timeout_ms) {
    switch (e.kind) {
        case DbError::Kind::Timeout: return errors::check_timeout(timeout_ms);
        case DbError::Kind::Unreachable: return errors::kCheckUnreachable;
        default: return errors::check_failed(e.message);
    }
}

bool read_rows(const SqlRows& rows, CheckOutcome& out) {
    for (const SqlRow& r : rows) {
        if (r.size() < 3) return false;
        CheckOutcome::Row row;
        row.row_number = r.is_null(0) ? 0 : std::atoi(r[0].c_str());
        row.id = std::strtoll(r[1].c_str(), nullptr, 10);
        row.failed = !r.is_null(2);
        if (row.failed) row.error = errors::check_failed(r[2]);
        out.rows.push_back(std::move(row));
    }
    return true;
}

}  // namespace

CheckOutcome check_rows(SqlSession& s, const CheckCall& call, int timeout_ms) {
    CheckOutcome out;
    SqlRows rows;
    DbError e = in_transaction(s, TxEnd::Rollback, [&](SqlSession& tx, DbError& error) {
        return tx.exec("SELECT set_config('statement_timeout', $1, true)", {std::to_string(timeout_ms)}, nullptr,
                       error) &&
               tx.exec("SELECT row_number, subscription_id, error FROM realtime.check_rows($1, $2, $3, "
                       "$4::text[], $5::boolean, $6::text[], $7::bigint[], NULLIF($8, '{}')::int[])",
                       {call.key.schema, call.key.table, call.key.role, pg_array::text(call.key.quals),
                        call.key.per_user ? "true" : "false", pg_array::text(call.rows),
                        pg_array::bigint(call.pair_rows.empty() ? call.candidates : call.pair_ids),
                        pg_array::integer(call.pair_rows)},
                       &rows, error);
    });
    if (e) {
        out.ok = false;
        out.error = outcome_error(e, timeout_ms);
        return out;
    }
    read_rows(rows, out);
    return out;
}

}  // namespace rt::check_sql
