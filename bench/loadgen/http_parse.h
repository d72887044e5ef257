// Owns: parsing HTTP/1.1 response heads (status line and headers) and message bodies
// (Content-Length or chunked), shared by the WebSocket handshake and the HTTP
// publisher. Pure functions over a buffer; nothing here does I/O.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace lg::http {

struct ResponseHead {
    int status = 0;
    size_t head_len = 0;          // bytes up to and including the blank line
    std::string_view headers;     // the header lines (after the status line)
};

enum class Parse { kNeedMore, kOk, kInvalid };

Parse parse_head(std::string_view buf, ResponseHead* out);
// Value of header `name` (case-insensitive), trimmed; empty when absent.
std::string_view header(std::string_view headers, std::string_view name);
bool header_has_token(std::string_view headers, std::string_view name, std::string_view token);

// Given the head, finds the end of the body in buf (which starts at the head).
// Sets *total to head plus body length. Responses to POST without a length and
// without chunking are not supported (treated as invalid).
Parse body_end(std::string_view buf, const ResponseHead& head, size_t* total, std::string* body);

}  // namespace lg::http
