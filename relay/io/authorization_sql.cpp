// Authorization, replay and retention statements.
#include "relay/io/authorization_sql.h"

#include <cstdlib>

namespace rt::authorization_sql {
namespace {

std::optional<bool> boolean(const SqlRow& row, size_t i) {
    if (row.is_null(i)) return std::nullopt;
    return row[i] == "t";
}

AccessResult::Failure failure_of(const DbError& e) {
    switch (e.kind) {
        case DbError::Kind::Timeout: return AccessResult::Failure::Timeout;
        case DbError::Kind::Unreachable: return AccessResult::Failure::Unreachable;
        default: return AccessResult::Failure::Failed;
    }
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

AccessResult authorize(SqlSession& s, const AccessCheck& c) {
    AccessResult r;
    SqlRows rows;
    DbError e;
    auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
    if (!s.exec("SELECT broadcast_read, presence_read, broadcast_write, presence_write, error_code, error_message "
                "FROM realtime.authorize($1, $2::jsonb, $3::boolean, $4::boolean, $5::boolean, $6::jsonb)",
                {c.topic, c.claims_json, flag(c.read), flag(c.write), flag(c.presence), c.headers_json}, &rows, e)) {
        r.failure = failure_of(e);
        r.error_code = e.sqlstate;
        r.error_message = e.message;
        return r;
    }
    if (rows.empty() || rows[0].size() < 6) {
        r.failure = AccessResult::Failure::Failed;
        r.error_message = "realtime.authorize returned no row";
        return r;
    }
    const SqlRow& row = rows[0];
    if (!row.is_null(4)) {
        r.failure = AccessResult::Failure::Policy;
        r.error_code = row[4];
        r.error_message = row.is_null(5) ? "" : row[5];
        return r;
    }
    r.policies = {boolean(row, 0), boolean(row, 1), boolean(row, 2), boolean(row, 3)};
    return r;
}

// The WAL insert position, read before realtime.replay's own snapshot (the session is in
// autocommit: each statement its own), so every commit before it is visible to the
// replay once the replay has waited for those in flight (ReplayResult::read_lsn).
static bool read_insert_lsn(SqlSession& s, uint64_t& lsn, DbError& e) {
    SqlRows rows;
    if (!s.exec("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint", {}, &rows, e)) return false;
    lsn = rows.empty() ? 0 : std::strtoull(rows[0][0].c_str(), nullptr, 10);
    return true;
}

ReplayResult replay(SqlSession& s, const ReplayQuery& q) {
    ReplayResult r;
    SqlRows rows;
    DbError e;
    if (!read_insert_lsn(s, r.read_lsn, e) || !s.exec("SELECT id, event, payload, encode(binary_payload, 'hex') FROM realtime.replay($1, $2::bigint, $3::integer)",
                {q.topic, std::to_string(q.since), std::to_string(q.limit)}, &rows, e)) {
        r.failure = e.sqlstate == "22023" ? ReplayResult::Failure::InvalidParams : ReplayResult::Failure::Failed;
        r.error = e.message;
        return r;
    }
    for (const SqlRow& row : rows) {
        ReplayRow m;
        m.id = row[0];
        m.event = row[1];
        m.binary = row.is_null(2);
        if (!m.binary)
            m.payload = row[2];
        else if (!from_hex(row[3], m.payload))
            continue;
        r.rows.push_back(std::move(m));
    }
    return r;
}

bool maintain_messages(SqlSession& s, int retention_hours, std::vector<std::pair<std::string, std::string>>& done,
                       DbError& error) {
    SqlRows rows;
    if (!s.exec("SELECT action, partition_name FROM realtime.maintain_messages(make_interval(hours => $1::integer))",
                {std::to_string(retention_hours)}, &rows, error))
        return false;
    for (const SqlRow& row : rows) done.emplace_back(row[0], row[1]);
    return true;
}

bool from_hex(const std::string& text, std::string& out) {
    out.clear();
    if (text.size() % 2) return false;
    out.reserve(text.size() / 2);
    for (size_t i = 0; i < text.size(); i += 2) {
        int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<char>(hi << 4 | lo));
    }
    return true;
}

}  // namespace rt::authorization_sql
