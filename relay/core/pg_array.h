// Postgres array literals for text parameters ($1::text[], $1::bigint[]): every element
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

inline std::string bigint(const std::vector<int64_t>& ids) {
    std::string a = "{";
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) a.push_back(',');
        a += std::to_string(ids[i]);
    }
    a.push_back('}');
    return a;
}

}  // namespace rt::pg_array
