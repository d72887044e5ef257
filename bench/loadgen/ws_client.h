// Owns: one client WebSocket connection over a non-blocking socket: TCP connect, the
// HTTP Upgrade handshake (Sec-WebSocket-Key / Accept check), masked outgoing frames,
// incoming frames across reads (partial headers, messages larger than one read,
// fragmented messages, control frames between fragments), ping/pong and the close
// handshake. Protocol above WebSocket is the WsHandler's business.
//
// The socket is registered edge-triggered: a readable event is drained until recv()
// returns less than asked (TCP then has nothing more queued) or EAGAIN, which saves
// epoll's re-poll of every ready socket; 10 000 mostly idle sockets make that count.
//
// Callbacks: on_ws_end() is called exactly once for a connection that connect()
// accepted, whatever ended it; never from inside a send (a failed send shuts the socket
// down and the end is reported from the event loop).
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "bench/loadgen/event_loop.h"

namespace lg {

enum class WsEnd {
    kConnectFailed,    // TCP connect failed
    kHandshakeFailed,  // not a 101, or a bad accept key
    kProtocolError,    // malformed frames from the server
    kPeerClosed,       // server sent a close frame
    kEof,              // TCP closed without a close frame
    kIoError,
    kTimeout,          // the owner gave up waiting (fail())
    kTooBig,           // a message over the size limit
};
const char* ws_end_name(WsEnd e);

class WsClient;

class WsHandler {
public:
    virtual ~WsHandler() = default;
    virtual void on_ws_open(WsClient& c) = 0;
    // data is writable and valid only during the call
    virtual void on_ws_message(WsClient& c, bool binary, char* data, size_t len) = 0;
    virtual void on_ws_pong(WsClient& c) {}
    virtual void on_ws_end(WsClient& c, WsEnd why, const std::string& detail) = 0;
};

class WsClient final : public IoHandler {
public:
    enum class State : uint8_t { kIdle, kConnecting, kHandshake, kOpen, kClosed };

    WsClient(EventLoop* loop, WsHandler* handler) : loop_(loop), handler_(handler) {}
    ~WsClient() override { abort(); }
    WsClient(const WsClient&) = delete;
    WsClient& operator=(const WsClient&) = delete;

    // Starts connecting. False on immediate failure (errno in *err); no callback then.
    bool connect(const sockaddr_in& dst, const sockaddr_in* src, const std::string& host_header,
                 std::string_view target, int* err);

    void send_text(std::string_view s) { send_frame(0x1, s.data(), s.size()); }
    void send_binary(std::string_view s) { send_frame(0x2, s.data(), s.size()); }
    void send_ping() { send_frame(0x9, nullptr, 0); }
    void send_close(uint16_t code = 1000);
    // Ends the connection now and reports `why` to the handler.
    void fail(WsEnd why, const std::string& detail);
    // Closes the socket without a callback (shutdown of the whole run).
    void abort();

    State state() const { return state_; }
    bool is_open() const { return state_ == State::kOpen; }
    size_t tx_pending() const { return tx_.size() - tx_off_; }
    int http_status() const { return http_status_; }

    static void set_max_message(size_t bytes) { max_message_ = bytes; }

    void on_io(uint32_t events) override;

private:
    void complete_connect();
    void on_readable();
    void handle_handshake();
    size_t process_frames(char* data, size_t n);
    void dispatch_frame(uint8_t opcode, bool fin, char* payload, size_t len);
    void send_frame(uint8_t opcode, const char* payload, size_t len);
    void send_raw(const char* data, size_t len);
    void flush();
    void want_writable(bool on);
    void finish(WsEnd why, const std::string& detail);
    void release_fd();

    EventLoop* loop_;
    WsHandler* handler_;
    int fd_ = -1;
    State state_ = State::kIdle;
    bool writable_armed_ = false;
    bool close_sent_ = false;
    bool send_failed_ = false;
    uint8_t frag_opcode_ = 0;   // opcode of the fragmented message in progress, 0 if none
    int http_status_ = 0;
    std::string tx_;            // unsent bytes (only when the socket pushed back)
    size_t tx_off_ = 0;
    std::string rx_;            // partial frame or handshake bytes carried to the next read
    std::string frag_;          // fragments of a message in progress
    std::string key_;           // Sec-WebSocket-Key during the handshake

    static size_t max_message_;
};

}  // namespace lg
