// Whether an HTTP request's body will be read, decided from its headers before any of
// it arrives (pure logic): a body is read only when its Content-Length is a plain
// decimal within the limit. Chunked bodies (lws 4.1 does not decode them for servers)
// and bodies of unknown length get 411, lengths that are not a non-negative integer
// 400, lengths past the limit 413: each answered at once, and the connection closed,
// so a client can never leave one waiting for bytes that do not come.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rt {

struct BodyVerdict {
    int status = 0;       // 0: read the body; else the HTTP status to answer with
    std::string message;  // why, for the client
    int64_t length = 0;   // the body's length when it is read

    bool accepted() const { return status == 0; }
};

// content_length / transfer_encoding: the headers' values ("" when absent).
BodyVerdict check_request_body(std::string_view content_length, std::string_view transfer_encoding,
                               int64_t max_bytes);

}  // namespace rt
