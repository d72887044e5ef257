// One libpq connection as a SqlSession (I/O): the relay's connection defaults, the
// session's statement_timeout, reconnection with backoff when the connection is lost,
// and every failure turned into a DbError. Used by one thread at a time (a pool
// worker, the registry's thread).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "relay/core/sql_session.h"

struct pg_conn;

namespace rt {

class PgSession : public SqlSession {
public:
    // statement_timeout_ms 0: no timeout.
    PgSession(std::string conninfo, std::string application_name, int statement_timeout_ms);
    ~PgSession() override;
    PgSession(const PgSession&) = delete;
    PgSession& operator=(const PgSession&) = delete;

    bool connected() override;
    // Connects now, without backoff or logging (the startup check); false with
    // connect_error() on failure.
    bool open();
    bool exec(const std::string& sql, const std::vector<std::string>& params, SqlRows* rows,
              DbError& error) override;
    int statement_timeout_ms() const override { return statement_timeout_ms_; }

    // The connection for code written against libpq directly; nullptr when there is none
    // (call connected() first).
    pg_conn* raw() const { return conn_; }
    // The last connection failure, one line (for the startup check).
    const std::string& connect_error() const { return connect_error_; }

private:
    bool still_open();
    bool run(const std::string& sql, const std::vector<std::string>& params, SqlRows* rows, DbError& error);
    void drop();

    const std::string conninfo_;
    const std::string application_name_;
    const int statement_timeout_ms_;
    pg_conn* conn_ = nullptr;
    std::string connect_error_;
    int64_t next_attempt_ms_ = 0;
    int backoff_ms_ = 0;
};

}  // namespace rt
