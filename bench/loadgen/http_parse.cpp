// Owns: the HTTP response parsing declared in http_parse.h.
#include "bench/loadgen/http_parse.h"

#include <cctype>
#include <cstdlib>
#include <cstring>

namespace lg::http {

static bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

Parse parse_head(std::string_view buf, ResponseHead* out) {
    size_t end = buf.find("\r\n\r\n");
    if (end == std::string_view::npos) return buf.size() > 64 * 1024 ? Parse::kInvalid : Parse::kNeedMore;
    if (buf.substr(0, 7) != "HTTP/1.") return Parse::kInvalid;
    size_t sp = buf.find(' ');
    if (sp == std::string_view::npos || sp + 4 > end) return Parse::kInvalid;
    int status = 0;
    for (size_t i = sp + 1; i < sp + 4; i++) {
        if (!std::isdigit(static_cast<unsigned char>(buf[i]))) return Parse::kInvalid;
        status = status * 10 + (buf[i] - '0');
    }
    size_t line_end = buf.find("\r\n");
    out->status = status;
    out->head_len = end + 4;
    out->headers = buf.substr(line_end + 2, end + 2 - (line_end + 2));
    return Parse::kOk;
}

std::string_view header(std::string_view headers, std::string_view name) {
    size_t pos = 0;
    while (pos < headers.size()) {
        size_t eol = headers.find("\r\n", pos);
        if (eol == std::string_view::npos) eol = headers.size();
        std::string_view line = headers.substr(pos, eol - pos);
        size_t colon = line.find(':');
        if (colon != std::string_view::npos && iequals(trim(line.substr(0, colon)), name))
            return trim(line.substr(colon + 1));
        pos = eol + 2;
    }
    return {};
}

bool header_has_token(std::string_view headers, std::string_view name, std::string_view token) {
    std::string_view v = header(headers, name);
    size_t pos = 0;
    while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        if (comma == std::string_view::npos) comma = v.size();
        if (iequals(trim(v.substr(pos, comma - pos)), token)) return true;
        pos = comma + 1;
    }
    return false;
}

static Parse chunked_end(std::string_view buf, size_t pos, size_t* total, std::string* body) {
    body->clear();
    while (true) {
        size_t eol = buf.find("\r\n", pos);
        if (eol == std::string_view::npos) return Parse::kNeedMore;
        std::string line(buf.substr(pos, eol - pos));
        char* endp = nullptr;
        unsigned long size = std::strtoul(line.c_str(), &endp, 16);
        if (endp == line.c_str()) return Parse::kInvalid;
        pos = eol + 2;
        if (size == 0) {
            // trailers end with an empty line
            while (true) {
                size_t e2 = buf.find("\r\n", pos);
                if (e2 == std::string_view::npos) return Parse::kNeedMore;
                bool empty = e2 == pos;
                pos = e2 + 2;
                if (empty) {
                    *total = pos;
                    return Parse::kOk;
                }
            }
        }
        if (buf.size() < pos + size + 2) return Parse::kNeedMore;
        body->append(buf.substr(pos, size));
        pos += size + 2;
    }
}

Parse body_end(std::string_view buf, const ResponseHead& head, size_t* total, std::string* body) {
    if (head.status == 204 || head.status == 304 || (head.status >= 100 && head.status < 200)) {
        *total = head.head_len;
        body->clear();
        return Parse::kOk;
    }
    std::string_view cl = header(head.headers, "Content-Length");
    if (!cl.empty()) {
        size_t n = size_t(std::strtoull(std::string(cl).c_str(), nullptr, 10));
        if (buf.size() < head.head_len + n) return Parse::kNeedMore;
        *total = head.head_len + n;
        body->assign(buf.substr(head.head_len, n));
        return Parse::kOk;
    }
    if (header_has_token(head.headers, "Transfer-Encoding", "chunked"))
        return chunked_end(buf, head.head_len, total, body);
    return Parse::kInvalid;
}

}  // namespace lg::http
