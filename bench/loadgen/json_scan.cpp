// Owns: the JSON slice scanner and writer declared in json_scan.h.
#include "bench/loadgen/json_scan.h"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace lg::json {

const char* skip_ws(const char* p, const char* e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static const char* skip_string(const char* p, const char* e) {
    // p points at the opening quote
    for (p++; p < e; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"') return p + 1;
    }
    return nullptr;
}

static const char* skip_container(const char* p, const char* e) {
    int depth = 0;
    while (p < e) {
        char c = *p;
        if (c == '"') {
            p = skip_string(p, e);
            if (!p) return nullptr;
            continue;
        }
        if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') {
            if (--depth == 0) return p + 1;
        }
        p++;
    }
    return nullptr;
}

const char* skip_value(const char* p, const char* e) {
    p = skip_ws(p, e);
    if (p >= e) return nullptr;
    if (*p == '"') return skip_string(p, e);
    if (*p == '{' || *p == '[') return skip_container(p, e);
    const char* start = p;
    while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
           *p != '\r' && *p != '\t')
        p++;
    return p > start ? p : nullptr;
}

std::string_view value_at(std::string_view text) {
    const char* b = skip_ws(text.data(), text.data() + text.size());
    const char* end = skip_value(b, text.data() + text.size());
    if (!end) return {};
    return std::string_view(b, size_t(end - b));
}

bool object_get(std::string_view obj, std::string_view key, std::string_view* out) {
    const char* p = obj.data();
    const char* e = p + obj.size();
    p = skip_ws(p, e);
    if (p >= e || *p != '{') return false;
    p++;
    while (true) {
        p = skip_ws(p, e);
        if (p >= e || *p == '}') return false;
        if (*p != '"') return false;
        const char* kend = skip_string(p, e);
        if (!kend) return false;
        std::string_view k(p + 1, size_t(kend - p - 2));
        p = skip_ws(kend, e);
        if (p >= e || *p != ':') return false;
        p = skip_ws(p + 1, e);
        const char* vend = skip_value(p, e);
        if (!vend) return false;
        if (k == key) {
            *out = std::string_view(p, size_t(vend - p));
            return true;
        }
        p = skip_ws(vend, e);
        if (p < e && *p == ',') p++;
    }
}

bool array_get(std::string_view arr, size_t idx, std::string_view* out) {
    const char* p = arr.data();
    const char* e = p + arr.size();
    p = skip_ws(p, e);
    if (p >= e || *p != '[') return false;
    p++;
    for (size_t i = 0;; i++) {
        p = skip_ws(p, e);
        if (p >= e || *p == ']') return false;
        const char* vend = skip_value(p, e);
        if (!vend) return false;
        if (i == idx) {
            *out = std::string_view(p, size_t(vend - p));
            return true;
        }
        p = skip_ws(vend, e);
        if (p < e && *p == ',') p++;
    }
}

bool is_null(std::string_view v) { return v == "null"; }

bool string_equals(std::string_view v, std::string_view s) {
    return v.size() == s.size() + 2 && v.front() == '"' && v.back() == '"' &&
           v.substr(1, s.size()) == s;
}

bool as_string(std::string_view v, std::string* out) {
    if (v.size() < 2 || v.front() != '"' || v.back() != '"') return false;
    out->clear();
    for (size_t i = 1; i + 1 < v.size(); i++) {
        char c = v[i];
        if (c != '\\') {
            out->push_back(c);
            continue;
        }
        if (++i + 1 > v.size() - 1) return false;
        char n = v[i];
        switch (n) {
            case 'n': out->push_back('\n'); break;
            case 't': out->push_back('\t'); break;
            case 'r': out->push_back('\r'); break;
            case 'b': out->push_back('\b'); break;
            case 'f': out->push_back('\f'); break;
            case 'u': {
                if (i + 4 >= v.size()) return false;
                unsigned code = 0;
                if (std::sscanf(std::string(v.substr(i + 1, 4)).c_str(), "%4x", &code) != 1)
                    return false;
                out->push_back(code < 0x80 ? char(code) : '?');
                i += 4;
                break;
            }
            default: out->push_back(n);
        }
    }
    return true;
}

bool as_int64(std::string_view v, int64_t* out) {
    if (!v.empty() && v.front() == '"') {
        if (v.size() < 3 || v.back() != '"') return false;
        v = v.substr(1, v.size() - 2);
    }
    if (v.empty()) return false;
    size_t i = 0;
    bool neg = false;
    if (v[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i >= v.size() || v[i] < '0' || v[i] > '9') return false;
    int64_t n = 0;
    for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; i++) n = n * 10 + (v[i] - '0');
    if (i < v.size() && v[i] != '.' && v[i] != 'e' && v[i] != 'E') return false;
    if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
        double d = std::strtod(std::string(v).c_str(), nullptr);
        n = int64_t(std::fabs(d));
    }
    *out = neg ? -n : n;
    return true;
}

void append_quoted(std::string* out, std::string_view s) {
    out->push_back('"');
    for (char c : s) {
        switch (c) {
            case '"': out->append("\\\""); break;
            case '\\': out->append("\\\\"); break;
            case '\n': out->append("\\n"); break;
            case '\r': out->append("\\r"); break;
            case '\t': out->append("\\t"); break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
                    out->append(buf);
                } else {
                    out->push_back(c);
                }
        }
    }
    out->push_back('"');
}

void Writer::comma() {
    if (need_comma_) out_.push_back(',');
    need_comma_ = true;
}

Writer& Writer::begin_object() {
    comma();
    out_.push_back('{');
    need_comma_ = false;
    return *this;
}
Writer& Writer::end_object() {
    out_.push_back('}');
    need_comma_ = true;
    return *this;
}
Writer& Writer::begin_array() {
    comma();
    out_.push_back('[');
    need_comma_ = false;
    return *this;
}
Writer& Writer::end_array() {
    out_.push_back(']');
    need_comma_ = true;
    return *this;
}
Writer& Writer::key(std::string_view k) {
    comma();
    append_quoted(&out_, k);
    out_.push_back(':');
    need_comma_ = false;
    return *this;
}
Writer& Writer::value(std::string_view s) {
    comma();
    append_quoted(&out_, s);
    return *this;
}
Writer& Writer::value(int64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
}
Writer& Writer::value(uint64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
}
Writer& Writer::value(double v) {
    comma();
    if (!std::isfinite(v)) {
        out_ += "null";
        return *this;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    out_ += buf;
    return *this;
}
Writer& Writer::value(bool v) {
    comma();
    out_ += v ? "true" : "false";
    return *this;
}
Writer& Writer::null() {
    comma();
    out_ += "null";
    return *this;
}
Writer& Writer::raw(std::string_view json) {
    comma();
    out_.append(json);
    return *this;
}

}  // namespace lg::json
