// Postgres array literals for text parameters ($1::text[], $1::bigint[], $1::int[]): every element
// double-quoted with its quotes and backslashes escaped, so any text (SQL, record text,
// column names) round-trips exactly; NULL is never produced. Pure logic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rt::pg_array {

inline std::string text(const std::vector<std::string>& items) {
    std::string a = "{";
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) a.push_back(',');
        a.push_back('"');
        for (char c : items[i]) {
            if (c == '"' || c == '\\') a.push_back('\\');
            a.push_back(c);
        }
        a.push_back('"');
    }
    a.push_back('}');
    return a;
}

template <typename Int>
inline std::string integers(const std::vector<Int>& values) {
    std::string a = "{";
    for (size_t i = 0; i < values.size(); ++i) {
        if (i) a.push_back(',');
        a += std::to_string(values[i]);
    }
    a.push_back('}');
    return a;
}

inline std::string integer(const std::vector<int>& values) { return integers(values); }

inline std::string bigint(const std::vector<int64_t>& ids) { return integers(ids); }

}  // namespace rt::pg_array
