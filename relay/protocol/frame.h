// An outbound WebSocket message, serialized once and shared by every recipient.
//
// The buffer starts with kHeadroom spare bytes; make_frame() writes the WebSocket frame
// header (server frames are unmasked, so it is the same for every recipient) at the end
// of them. wire() is then the complete frame, written as is to every connection, with
// no copy and no per-recipient framing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace rt {

inline constexpr size_t kHeadroom = 16;  // the longest WebSocket header is 10 bytes

struct Frame {
    std::string buf;  // kHeadroom bytes (the header at their end), then the message
    bool binary = false;
    uint8_t header_len = 0;

    size_t size() const { return buf.size() - kHeadroom; }  // the message
    unsigned char* data() { return reinterpret_cast<unsigned char*>(&buf[kHeadroom]); }
    // The whole WebSocket frame: header and message.
    const char* wire() const { return buf.data() + kHeadroom - header_len; }
    size_t wire_size() const { return header_len + size(); }
};

using FrameRef = std::shared_ptr<Frame>;

// A string that already holds the headroom; append the message to it.
inline std::string frame_buffer(size_t reserve = 256) {
    std::string s(kHeadroom, '\0');
    s.reserve(kHeadroom + reserve);
    return s;
}

// Takes a buffer made by frame_buffer() with the message appended, and frames it.
inline FrameRef make_frame(std::string&& buf_with_headroom, bool binary) {
    auto f = std::make_shared<Frame>();
    f->buf = std::move(buf_with_headroom);
    f->binary = binary;
    uint64_t len = f->size();
    unsigned char h[10];
    h[0] = static_cast<unsigned char>(0x80 | (binary ? 0x2 : 0x1));  // FIN, text or binary
    size_t n;
    if (len < 126) {
        h[1] = static_cast<unsigned char>(len);
        n = 2;
    } else if (len < 65536) {
        h[1] = 126;
        h[2] = static_cast<unsigned char>(len >> 8);
        h[3] = static_cast<unsigned char>(len);
        n = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; ++i) h[2 + i] = static_cast<unsigned char>(len >> (8 * (7 - i)));
        n = 10;
    }
    f->header_len = static_cast<uint8_t>(n);
    memcpy(&f->buf[kHeadroom - n], h, n);
    return f;
}

}  // namespace rt
