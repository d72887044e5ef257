// An outbound WebSocket message, serialized once and shared by every recipient.
//
// The buffer starts with kHeadroom spare bytes where libwebsockets writes the frame
// header (LWS_PRE): writes happen one at a time on the loop thread, so one buffer with
// headroom serves all connections in turn, with no copy per recipient.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace rt {

inline constexpr size_t kHeadroom = 16;  // >= LWS_PRE, checked where lws is included

struct Frame {
    std::string buf;  // kHeadroom bytes, then the message
    bool binary = false;

    size_t size() const { return buf.size() - kHeadroom; }
    unsigned char* data() { return reinterpret_cast<unsigned char*>(&buf[kHeadroom]); }
};

using FrameRef = std::shared_ptr<Frame>;

// A string that already holds the headroom; append the message to it.
inline std::string frame_buffer(size_t reserve = 256) {
    std::string s(kHeadroom, '\0');
    s.reserve(kHeadroom + reserve);
    return s;
}

inline FrameRef make_frame(std::string&& buf_with_headroom, bool binary) {
    auto f = std::make_shared<Frame>();
    f->buf = std::move(buf_with_headroom);
    f->binary = binary;
    return f;
}

}  // namespace rt
