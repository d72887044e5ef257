// What database work sees of its connection: one SQL session that runs statements with
// text parameters and says why one failed (unreachable, timed out, refused). The relay
// implements it with libpq (io/pg_session); unit tests with recorders. Work written
// against it (io/subscription_db, core/user_transaction) is testable without Postgres.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt {

// Why a statement failed. kind None: it did not.
struct DbError {
    enum class Kind : uint8_t {
        None,
        Unreachable,  // no connection (or it broke during the statement)
        Timeout,      // the statement ran past the session's statement_timeout (57014)
        Failed,       // Postgres refused it (sqlstate says why)
    };
    Kind kind = Kind::None;
    std::string sqlstate;  // five characters, empty when Postgres did not say
    std::string message;   // one line, Postgres' primary message

    explicit operator bool() const { return kind != Kind::None; }
    bool timed_out() const { return kind == Kind::Timeout; }

    // The error of a failed statement: query_canceled (57014, which statement_timeout
    // raises) is a timeout; a lost connection, SQLSTATE class 08 (connection) and 57P
    // (the server shutting down or restarting) are unreachable.
    static DbError of(std::string sqlstate, std::string message, bool connection_lost) {
        DbError e;
        bool gone = connection_lost || sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0;
        e.kind = gone ? Kind::Unreachable : sqlstate == "57014" ? Kind::Timeout : Kind::Failed;
        e.sqlstate = std::move(sqlstate);
        e.message = std::move(message);
        return e;
    }
};

// One result row: text values, with NULL told apart from "".
struct SqlRow {
    std::vector<std::string> values;
    std::vector<bool> nulls;
    const std::string& operator[](size_t i) const { return values[i]; }
    bool is_null(size_t i) const { return nulls[i]; }
    size_t size() const { return values.size(); }
};
using SqlRows = std::vector<SqlRow>;

class SqlSession {
public:
    virtual ~SqlSession() = default;
    // Connected now (reconnecting if the connection was lost and the backoff allows).
    virtual bool connected() = 0;
    // Runs one statement with text parameters $1..$n; its rows go to *rows when given.
    // False with *error filled when it fails (always Unreachable when not connected).
    virtual bool exec(const std::string& sql, const std::vector<std::string>& params, SqlRows* rows,
                      DbError& error) = 0;
    // The session's statement_timeout in milliseconds (0: none), for messages.
    virtual int statement_timeout_ms() const = 0;
};

}  // namespace rt
