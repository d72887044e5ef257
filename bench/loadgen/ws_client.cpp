// Owns: the WebSocket client connection state machine (see ws_client.h).
#include "bench/loadgen/ws_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench/loadgen/crypto_util.h"
#include "bench/loadgen/http_parse.h"
#include "bench/loadgen/net_util.h"
#include "bench/loadgen/ws_frame.h"

namespace lg {

size_t WsClient::max_message_ = 16 * 1024 * 1024;

namespace {
constexpr const char* kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kReleaseAbove = 64 * 1024;  // give back buffers that grew beyond this

void shrink(std::string* s) {
    if (s->capacity() > kReleaseAbove) std::string().swap(*s);
}
}  // namespace

const char* ws_end_name(WsEnd e) {
    switch (e) {
        case WsEnd::kConnectFailed: return "connect_failed";
        case WsEnd::kHandshakeFailed: return "handshake_failed";
        case WsEnd::kProtocolError: return "protocol_error";
        case WsEnd::kPeerClosed: return "peer_closed";
        case WsEnd::kEof: return "eof";
        case WsEnd::kIoError: return "io_error";
        case WsEnd::kTimeout: return "timeout";
        case WsEnd::kTooBig: return "message_too_big";
    }
    return "?";
}

bool WsClient::connect(const sockaddr_in& dst, const sockaddr_in* src,
                       const std::string& host_header, std::string_view target, int* err) {
    fd_ = tcp_connect_nonblocking(dst, src, err);
    if (fd_ < 0) return false;
    close_sent_ = false;
    send_failed_ = false;
    http_status_ = 0;
    char raw[16];
    uint64_t a = loop_->rand64(), b = loop_->rand64();
    std::memcpy(raw, &a, 8);
    std::memcpy(raw + 8, &b, 8);
    key_ = crypto::base64(std::string_view(raw, 16));
    tx_.reserve(256 + target.size());
    tx_.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ").append(host_header);
    tx_.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    tx_.append(key_).append("\r\nSec-WebSocket-Version: 13\r\nUser-Agent: rt-loadgen\r\n\r\n");
    tx_off_ = 0;
    state_ = State::kConnecting;
    writable_armed_ = true;
    if (!loop_->add(fd_, EPOLLIN | EPOLLOUT | EPOLLET, this)) {
        *err = errno;
        release_fd();
        return false;
    }
    return true;
}

void WsClient::on_io(uint32_t events) {
    if (fd_ < 0) return;
    if (state_ == State::kConnecting) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) complete_connect();
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        on_readable();
        if (fd_ < 0) return;
    }
    if (events & EPOLLOUT) flush();
}

void WsClient::complete_connect() {
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr != 0) {
        finish(WsEnd::kConnectFailed, errno_name(soerr));
        return;
    }
    state_ = State::kHandshake;
    flush();  // the upgrade request queued by connect()
}

void WsClient::on_readable() {
    char* buf = loop_->scratch();
    const size_t cap = loop_->scratch_size();
    // edge-triggered: read until a short read (the socket is then drained) or EAGAIN
    while (fd_ >= 0) {
        ssize_t n = recv(fd_, buf, cap, 0);
        if (n == 0) {
            finish(WsEnd::kEof, "connection closed by server");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                if (send_failed_) finish(WsEnd::kIoError, "send failed");
                return;
            }
            finish(WsEnd::kIoError, errno_name(errno));
            return;
        }
        if (state_ == State::kHandshake) {
            rx_.append(buf, size_t(n));
            handle_handshake();
        } else if (rx_.empty()) {
            size_t used = process_frames(buf, size_t(n));
            if (fd_ >= 0 && used < size_t(n)) rx_.assign(buf + used, size_t(n) - used);
        } else {
            rx_.append(buf, size_t(n));
            size_t used = process_frames(rx_.data(), rx_.size());
            if (fd_ >= 0) {
                rx_.erase(0, used);
                if (rx_.empty()) shrink(&rx_);
            }
        }
        if (size_t(n) < cap) return;  // drained the socket
    }
}

void WsClient::handle_handshake() {
    http::ResponseHead head;
    auto r = http::parse_head(rx_, &head);
    if (r == http::Parse::kNeedMore) return;
    if (r == http::Parse::kInvalid) {
        finish(WsEnd::kHandshakeFailed, "malformed HTTP response");
        return;
    }
    http_status_ = head.status;
    if (head.status != 101) {
        size_t total = 0;
        std::string body;
        if (http::body_end(rx_, head, &total, &body) == http::Parse::kNeedMore) return;
        if (body.empty()) body = rx_.substr(head.head_len);
        if (body.size() > 200) body.resize(200);
        finish(WsEnd::kHandshakeFailed, "HTTP " + std::to_string(head.status) + " " + body);
        return;
    }
    std::string expected = crypto::base64(crypto::sha1(key_ + kGuid));
    if (http::header(head.headers, "Sec-WebSocket-Accept") != expected ||
        !http::header_has_token(head.headers, "Upgrade", "websocket")) {
        finish(WsEnd::kHandshakeFailed, "bad Sec-WebSocket-Accept or Upgrade header");
        return;
    }
    std::string rest = rx_.substr(head.head_len);
    rx_.clear();
    shrink(&rx_);
    std::string().swap(key_);
    state_ = State::kOpen;
    handler_->on_ws_open(*this);
    if (fd_ < 0 || rest.empty()) return;
    size_t used = process_frames(rest.data(), rest.size());
    if (fd_ >= 0 && used < rest.size()) rx_.assign(rest, used, std::string::npos);
}

size_t WsClient::process_frames(char* data, size_t n) {
    size_t pos = 0;
    while (fd_ >= 0 && pos < n) {
        ws::FrameHeader h;
        auto r = ws::parse_header(reinterpret_cast<uint8_t*>(data + pos), n - pos, &h);
        if (r == ws::ParseResult::kNeedMore) break;
        if (r == ws::ParseResult::kInvalid || h.masked) {
            finish(WsEnd::kProtocolError, h.masked ? "masked server frame" : "malformed frame header");
            return pos;
        }
        if (h.length > max_message_) {
            finish(WsEnd::kTooBig, "frame of " + std::to_string(h.length) + " bytes");
            return pos;
        }
        size_t total = h.header_len + size_t(h.length);
        if (n - pos < total) {
            if (rx_.capacity() < total) rx_.reserve(total);  // one allocation for a big frame
            break;
        }
        dispatch_frame(h.opcode, h.fin, data + pos + h.header_len, size_t(h.length));
        pos += total;
    }
    return pos;
}

void WsClient::dispatch_frame(uint8_t opcode, bool fin, char* payload, size_t len) {
    switch (opcode) {
        case ws::kText:
        case ws::kBinary:
            if (frag_opcode_ != 0) {
                finish(WsEnd::kProtocolError, "new message inside a fragmented one");
                return;
            }
            if (fin) {
                handler_->on_ws_message(*this, opcode == ws::kBinary, payload, len);
            } else {
                frag_opcode_ = opcode;
                frag_.assign(payload, len);
            }
            return;
        case ws::kContinuation:
            if (frag_opcode_ == 0) {
                finish(WsEnd::kProtocolError, "continuation without a message");
                return;
            }
            if (frag_.size() + len > max_message_) {
                finish(WsEnd::kTooBig, "fragmented message over the limit");
                return;
            }
            frag_.append(payload, len);
            if (fin) {
                uint8_t op = frag_opcode_;
                frag_opcode_ = 0;
                handler_->on_ws_message(*this, op == ws::kBinary, frag_.data(), frag_.size());
                frag_.clear();
                shrink(&frag_);
            }
            return;
        case ws::kPing:
            send_frame(ws::kPong, payload, len);
            return;
        case ws::kPong:
            handler_->on_ws_pong(*this);
            return;
        case ws::kClose: {
            uint16_t code = len >= 2 ? uint16_t((uint8_t(payload[0]) << 8) | uint8_t(payload[1])) : 1005;
            std::string reason = len > 2 ? std::string(payload + 2, len - 2) : "";
            if (!close_sent_) {
                close_sent_ = true;
                send_frame(ws::kClose, payload, len >= 2 ? 2 : 0);
            }
            finish(WsEnd::kPeerClosed, "close " + std::to_string(code) + (reason.empty() ? "" : " " + reason));
            return;
        }
    }
}

void WsClient::send_close(uint16_t code) {
    if (state_ != State::kOpen || close_sent_) return;
    char b[2] = {char(code >> 8), char(code & 0xFF)};
    send_frame(ws::kClose, b, 2);
    close_sent_ = true;
}

void WsClient::send_frame(uint8_t opcode, const char* payload, size_t len) {
    if (fd_ < 0 || state_ != State::kOpen || send_failed_) return;
    if (close_sent_ && opcode != ws::kClose) return;
    uint32_t mask = uint32_t(loop_->rand64());
    if (tx_pending() > 0) {
        ws::append_frame(&tx_, opcode, payload, len, mask);
        return;
    }
    thread_local std::string frame;
    frame.clear();
    ws::append_frame(&frame, opcode, payload, len, mask);
    send_raw(frame.data(), frame.size());
    if (frame.capacity() > kReleaseAbove) std::string().swap(frame);
}

void WsClient::send_raw(const char* data, size_t len) {
    ssize_t n = send(fd_, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            // report from the event loop, not from inside the caller's send
            send_failed_ = true;
            shutdown(fd_, SHUT_RDWR);
            return;
        }
        n = 0;
    }
    if (size_t(n) < len) {
        tx_.assign(data + n, len - size_t(n));
        tx_off_ = 0;
        want_writable(true);
    }
}

void WsClient::flush() {
    while (tx_pending() > 0) {
        ssize_t n = send(fd_, tx_.data() + tx_off_, tx_pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                want_writable(true);
                return;
            }
            if (errno == EINTR) continue;
            finish(WsEnd::kIoError, errno_name(errno));
            return;
        }
        tx_off_ += size_t(n);
    }
    tx_.clear();
    tx_off_ = 0;
    shrink(&tx_);
    want_writable(false);
}

void WsClient::want_writable(bool on) {
    if (fd_ < 0 || on == writable_armed_) return;
    writable_armed_ = on;
    loop_->mod(fd_, on ? (EPOLLIN | EPOLLOUT | EPOLLET) : (EPOLLIN | EPOLLET), this);
}

void WsClient::fail(WsEnd why, const std::string& detail) { finish(why, detail); }

void WsClient::finish(WsEnd why, const std::string& detail) {
    if (fd_ < 0) return;
    release_fd();
    handler_->on_ws_end(*this, why, detail);
}

void WsClient::abort() {
    if (fd_ >= 0) release_fd();
}

void WsClient::release_fd() {
    loop_->del(fd_);
    close(fd_);
    fd_ = -1;
    state_ = State::kClosed;
    std::string().swap(tx_);
    std::string().swap(rx_);
    std::string().swap(frag_);
    std::string().swap(key_);
    tx_off_ = 0;
    frag_opcode_ = 0;
}

}  // namespace lg
