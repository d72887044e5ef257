// Owns: RFC 6455 framing as pure functions: writing masked client frames and parsing
// frame headers. No I/O; ws_client.cpp drives these over a socket.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace lg::ws {

enum Opcode : uint8_t {
    kContinuation = 0x0,
    kText = 0x1,
    kBinary = 0x2,
    kClose = 0x8,
    kPing = 0x9,
    kPong = 0xA,
};

struct FrameHeader {
    bool fin = false;
    uint8_t opcode = 0;
    bool masked = false;
    uint32_t mask = 0;       // key bytes in wire order, packed little-endian
    uint64_t length = 0;     // payload length
    size_t header_len = 0;   // bytes before the payload
};

enum class ParseResult { kNeedMore, kOk, kInvalid };

// Parses the header at data[0..n). kOk fills h (the payload may still be incomplete).
ParseResult parse_header(const uint8_t* data, size_t n, FrameHeader* h);

// Appends one masked frame (client to server) to out.
void append_frame(std::string* out, uint8_t opcode, const char* payload, size_t len,
                  uint32_t mask, bool fin = true);

// XORs data with the 4-byte key, starting at key offset `offset`.
void apply_mask(char* data, size_t len, uint32_t mask, size_t offset = 0);

}  // namespace lg::ws
