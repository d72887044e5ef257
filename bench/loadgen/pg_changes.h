// Owns: reading a postgres_changes push for latency-watch: the change type, the
// timestamp column (--ts-field: epoch microseconds as a number or numeric string, or a
// timestamptz text such as "2026-11-27 21:03:29.683123+00") looked up in `record`, then
// `old_record`, then `data` itself (so commit_timestamp works too), and the id column.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace lg {

struct PgChange {
    std::string type;        // INSERT, UPDATE, DELETE ("" if absent)
    bool has_ts = false;
    int64_t ts_us = 0;       // epoch microseconds (CLOCK_REALTIME)
    bool has_id = false;
    std::string id;          // the id value as text (strings unquoted)
};

bool parse_pg_change(std::string_view payload, const std::string& ts_field, const std::string& id_field,
                     PgChange* out);

// Parses "YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z|+HH[:MM]|-HH[:MM]]" to epoch microseconds.
bool parse_timestamp_us(std::string_view text, int64_t* us);

}  // namespace lg
