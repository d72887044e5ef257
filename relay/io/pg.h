// libpq helpers of the relay (I/O): connections with the relay's defaults, one-line error
// messages, statements with text parameters. Used by the database sessions
// (io/pg_session) and the slot stream.
#pragma once

#include <string>
#include <vector>

struct pg_conn;
struct pg_result;

namespace rt {

// Owns a PGresult.
class PgResult {
public:
    explicit PgResult(pg_result* r) : res(r) {}
    ~PgResult();
    PgResult(const PgResult&) = delete;
    PgResult& operator=(const PgResult&) = delete;
    bool ok() const;  // a command or a query that succeeded
    pg_result* res;
};

PgResult pg_exec(pg_conn* c, const char* sql);
PgResult pg_exec_params(pg_conn* c, const char* sql, const std::vector<std::string>& params);

// The error of a failed statement or connection, one line.
std::string pg_error_message(const pg_conn* conn, const pg_result* res = nullptr);
// A libpq connection with the relay's defaults (application name, timeouts).
pg_conn* pg_connect(const std::string& conninfo, const std::string& application_name, bool replication);

}  // namespace rt
