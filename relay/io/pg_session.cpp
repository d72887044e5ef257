// A libpq session with a statement timeout and reconnection.
#include "relay/io/pg_session.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>

#include "relay/core/clock.h"
#include "relay/core/log.h"
#include "relay/io/pg.h"

namespace rt {

PgSession::PgSession(std::string conninfo, std::string application_name, int statement_timeout_ms)
    : conninfo_(std::move(conninfo)),
      application_name_(std::move(application_name)),
      statement_timeout_ms_(statement_timeout_ms) {}

PgSession::~PgSession() { drop(); }

void PgSession::drop() {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
}

// Reads what the server sent to the idle connection: a server that shut down or restarted
// sent its FATAL message and closed the socket, which libpq sees only when it reads. One
// poll when nothing is waiting (the usual case).
bool PgSession::still_open() {
    for (int reads = 0; reads < 4 && PQstatus(conn_) == CONNECTION_OK; ++reads) {
        pollfd p{PQsocket(conn_), POLLIN, 0};
        if (poll(&p, 1, 0) <= 0 || !PQconsumeInput(conn_)) break;
    }
    return PQstatus(conn_) == CONNECTION_OK;
}

bool PgSession::connected() {
    // A connection closed while idle is replaced here, so the next job gets a new one
    // instead of the old one's error.
    if (conn_ && PQstatus(conn_) == CONNECTION_OK && still_open()) return true;
    int64_t now = mono_ms();
    if (now < next_attempt_ms_) return false;
    if (open()) {
        if (backoff_ms_) LOG_INFO("database connection re-established (%s)", application_name_.c_str());
        backoff_ms_ = 0;
        return true;
    }
    backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, 5000) : 250;
    next_attempt_ms_ = now + backoff_ms_;
    LOG_WARN("database unreachable (retrying in %d ms): %s", backoff_ms_, connect_error_.c_str());
    return false;
}

// A new connection with the session's statement_timeout (a session setting: it holds for
// every statement, inside transactions too, and survives ROLLBACK).
bool PgSession::open() {
    drop();
    conn_ = pg_connect(conninfo_, application_name_, false);
    if (PQstatus(conn_) != CONNECTION_OK) {
        connect_error_ = pg_error_message(conn_);
        drop();
        return false;
    }
    DbError error;
    if (!exec("SELECT set_config('statement_timeout', $1, false)", {std::to_string(statement_timeout_ms_)}, nullptr,
              error)) {
        connect_error_ = "setting statement_timeout failed: " + error.message;
        drop();
        return false;
    }
    return true;
}

bool PgSession::exec(const std::string& sql, const std::vector<std::string>& params, SqlRows* rows,
                     DbError& error) {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
        error = DbError::of("", "the database cannot be reached", true);
        return false;
    }
    if (run(sql, params, rows, error)) return true;
    // BEGIN does nothing on the server, so one that found the connection gone (closed
    // by a restart since the last look) is sent once more on a new connection.
    if (sql == "BEGIN" && error.kind == DbError::Kind::Unreachable && connected())
        return run(sql, params, rows, error);
    return false;
}

bool PgSession::run(const std::string& sql, const std::vector<std::string>& params, SqlRows* rows,
                    DbError& error) {
    PgResult r = pg_exec_params(conn_, sql.c_str(), params);
    if (!r.ok()) {
        const char* state = r.res ? PQresultErrorField(r.res, PG_DIAG_SQLSTATE) : nullptr;
        error = DbError::of(state ? state : "", pg_error_message(conn_, r.res), PQstatus(conn_) != CONNECTION_OK);
        return false;
    }
    if (!rows) return true;
    for (int i = 0; i < PQntuples(r.res); ++i) {
        SqlRow row;
        for (int j = 0; j < PQnfields(r.res); ++j) {
            row.values.emplace_back(PQgetvalue(r.res, i, j), static_cast<size_t>(PQgetlength(r.res, i, j)));
            row.nulls.push_back(PQgetisnull(r.res, i, j) != 0);
        }
        rows->push_back(std::move(row));
    }
    return true;
}

}  // namespace rt
