// Transactions and the user context on a SqlSession.
#include "relay/core/user_transaction.h"

namespace rt {
namespace {

bool run(SqlSession& s, const std::string& sql, const std::vector<std::string>& params, DbError& error) {
    return s.exec(sql, params, nullptr, error);
}

}  // namespace

DbError in_transaction(SqlSession& s, TxEnd end, const TxWork& work) {
    DbError error;
    if (!run(s, "BEGIN", {}, error)) return error;
    bool ok = work(s, error);
    if (!ok && !error) {
        error.kind = DbError::Kind::Failed;
        error.message = "the transaction's work failed";
    }
    if (ok && end == TxEnd::Commit) {
        run(s, "COMMIT", {}, error);
        return error;
    }
    // A failed ROLLBACK (connection lost) changes nothing: the server ends the
    // transaction with the session, and the first error is the one to report.
    DbError ignored;
    run(s, "ROLLBACK", {}, ignored);
    return error;
}

DbError as_user(SqlSession& s, const UserContext& ctx, TxEnd end, const TxWork& work) {
    return in_transaction(s, end, [&](SqlSession& tx, DbError& error) {
        if (!run(tx, "SELECT realtime.set_user_context($1::jsonb, NULLIF($2, ''), $3::jsonb)",
                 {ctx.claims_json, ctx.topic, ctx.headers_json}, error))
            return false;
        for (const auto& [name, value] : ctx.settings)
            if (!run(tx, "SELECT set_config($1, $2, true)", {name, value}, error)) return false;
        return work(tx, error);
    });
}

}  // namespace rt
