// libpq helpers.
#include "relay/io/pg.h"

#include <libpq-fe.h>

namespace rt {

PgResult::~PgResult() { PQclear(res); }

bool PgResult::ok() const {
    auto s = PQresultStatus(res);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

PgResult pg_exec(PGconn* c, const char* sql) { return PgResult(PQexec(c, sql)); }

PgResult pg_exec_params(PGconn* c, const char* sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    return PgResult(PQexecParams(c, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
}

std::string pg_error_message(const PGconn* conn, const PGresult* res) {
    const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string msg = primary ? primary : conn ? PQerrorMessage(conn) : "unknown database error";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    for (char& c : msg)
        if (c == '\n') c = ' ';
    return msg;
}

PGconn* pg_connect(const std::string& conninfo, const std::string& application_name, bool replication) {
    // Our defaults come first: settings in the user's conninfo (expanded from dbname)
    // override them. The replication mode comes last, as nothing may override it.
    const char* keys[] = {"application_name", "connect_timeout", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", "dbname", replication ? "replication" : nullptr, nullptr};
    const char* values[] = {application_name.c_str(), "5", "10", "5", "3", conninfo.c_str(),
                            replication ? "database" : nullptr, nullptr};
    return PQconnectdbParams(keys, values, 1);
}

}  // namespace rt
