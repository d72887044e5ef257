// The body rules of HTTP requests.
#include "relay/protocol/request_body.h"

namespace rt {
namespace {

BodyVerdict refuse(int status, std::string message) {
    BodyVerdict v;
    v.status = status;
    v.message = std::move(message);
    return v;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

BodyVerdict check_request_body(std::string_view content_length, std::string_view transfer_encoding,
                               int64_t max_bytes) {
    if (!trim(transfer_encoding).empty())
        return refuse(411, "Length Required: send the body with a Content-Length (Transfer-Encoding is not read)");
    std::string_view digits = trim(content_length);
    if (digits.empty()) return refuse(411, "Length Required: a request with a body needs a Content-Length");
    int64_t n = 0;
    bool over = false;  // past max_bytes (the syntax is still checked to the end)
    for (char c : digits) {
        if (c < '0' || c > '9') return refuse(400, "Bad Request: Content-Length must be a non-negative integer");
        int d = c - '0';
        if (!over && n > (max_bytes - d) / 10) over = true;  // n * 10 + d would pass the limit
        if (!over) n = n * 10 + d;
    }
    if (over) return refuse(413, "Payload too large: the limit is " + std::to_string(max_bytes) + " bytes");
    BodyVerdict ok;
    ok.length = n;
    return ok;
}

}  // namespace rt
