// Owns: postgres_changes payload reading for latency-watch (see pg_changes.h).
#include "bench/loadgen/pg_changes.h"

#include <ctime>

#include "bench/loadgen/json_scan.h"

namespace lg {

static bool digits(std::string_view s, size_t pos, size_t n, int* out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool parse_timestamp_us(std::string_view s, int64_t* us) {
    int Y, M, D, h, m, sec;
    if (!digits(s, 0, 4, &Y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, &M) || s[7] != '-' ||
        !digits(s, 8, 2, &D) || (s[10] != ' ' && s[10] != 'T') || !digits(s, 11, 2, &h) || s[13] != ':' ||
        !digits(s, 14, 2, &m) || s[16] != ':' || !digits(s, 17, 2, &sec))
        return false;
    size_t pos = 19;
    int64_t frac_us = 0;
    if (pos < s.size() && s[pos] == '.') {
        pos++;
        int64_t scale = 100000;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            frac_us += (s[pos] - '0') * scale;
            scale /= 10;
            pos++;
        }
    }
    int64_t offset_s = 0;
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int sign = s[pos] == '-' ? -1 : 1;
        int oh = 0, om = 0;
        if (!digits(s, pos + 1, 2, &oh)) return false;
        size_t p2 = pos + 3;
        if (p2 < s.size() && s[p2] == ':') p2++;
        if (p2 + 2 <= s.size()) digits(s, p2, 2, &om);
        offset_s = sign * (oh * 3600 + om * 60);
    }
    std::tm tm{};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    int64_t epoch = int64_t(timegm(&tm)) - offset_s;
    *us = epoch * 1000000 + frac_us;
    return true;
}

static bool read_ts(std::string_view v, int64_t* us) {
    if (v.empty() || json::is_null(v)) return false;
    std::string text;
    if (v.front() == '"' && json::as_string(v, &text) && text.size() >= 19 && text[4] == '-')
        return parse_timestamp_us(text, us);
    return json::as_int64(v, us);
}

bool parse_pg_change(std::string_view payload, const std::string& ts_field, const std::string& id_field,
                     PgChange* out) {
    *out = PgChange{};
    std::string_view data;
    if (!json::object_get(payload, "data", &data)) return false;
    std::string_view v;
    if (json::object_get(data, "type", &v)) json::as_string(v, &out->type);
    std::string_view record, old_record;
    bool has_rec = json::object_get(data, "record", &record) && !json::is_null(record);
    bool has_old = json::object_get(data, "old_record", &old_record) && !json::is_null(old_record);

    for (std::string_view obj : {has_rec ? record : std::string_view(), has_old ? old_record : std::string_view(), data}) {
        if (obj.empty() || out->has_ts) continue;
        if (json::object_get(obj, ts_field, &v) && read_ts(v, &out->ts_us)) out->has_ts = true;
    }
    for (std::string_view obj : {has_rec ? record : std::string_view(), has_old ? old_record : std::string_view()}) {
        if (obj.empty() || out->has_id) continue;
        if (json::object_get(obj, id_field, &v)) {
            out->has_id = true;
            if (v.front() != '"' || !json::as_string(v, &out->id)) out->id.assign(v);
        }
    }
    return true;
}

}  // namespace lg
