// Owns: one subscriber connection and its protocol conversation: phoenix (phx_join of
// realtime:<channel>, join reply, heartbeats on topic phoenix, broadcast / kind 4 /
// postgres_changes / system pushes) or nchan (the handshake is the subscription, every
// text frame a message, heartbeats are WebSocket pings). What happens is reported to a
// SessionSink (the worker), which counts it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/run_context.h"
#include "bench/loadgen/ws_client.h"

namespace lg {

class Session;

class SessionSink {
public:
    virtual ~SessionSink() = default;
    virtual void on_connected(Session& s) = 0;  // WebSocket handshake done
    virtual void on_joined(Session& s) = 0;
    virtual void on_join_failed(Session& s, const std::string& reason) = 0;
    virtual void on_subscribed(Session& s) = 0;  // "Subscribed to PostgreSQL"
    virtual void on_delivery(Session& s, int64_t send_ts_ns) = 0;
    virtual void on_pg_change(Session& s, std::string_view payload) = 0;
    virtual void on_heartbeat_reply(Session& s) = 0;
    virtual void on_undecodable(Session& s, std::string_view what) = 0;
    virtual void on_ended(Session& s, WsEnd why, const std::string& detail) = 0;
};

class Session final : public WsHandler {
public:
    enum class State : uint8_t { kNew, kPending, kJoined, kEnded };

    Session(EventLoop* loop, SessionSink* sink, const RunContext* ctx, int index, int channel)
        : ws_(loop, this), sink_(sink), ctx_(ctx), index_(index), channel_(channel) {}

    // Starts connecting; false on immediate failure (reported to the sink already).
    bool start(int64_t now_ns);
    void send_heartbeat();
    void fail_timeout();
    // Ends the connection at shutdown: a close frame (best effort), then the socket.
    void close() {
        ws_.send_close(1000);
        ws_.abort();
    }

    State state() const { return state_; }
    bool subscribed() const { return subscribed_; }
    bool ws_opened() const { return opened_; }
    int index() const { return index_; }
    int channel() const { return channel_; }
    int64_t started_at() const { return started_at_; }
    uint64_t records = 0;                 // latency-watch: postgres_changes received
    std::vector<std::string> ids;         // latency-watch --print-ids

    void on_ws_open(WsClient& c) override;
    void on_ws_message(WsClient& c, bool binary, char* data, size_t len) override;
    void on_ws_pong(WsClient& c) override;
    void on_ws_end(WsClient& c, WsEnd why, const std::string& detail) override;

private:
    void on_phoenix_message(bool binary, std::string_view frame);
    void on_reply(std::string_view topic, std::string_view ref, std::string_view payload);
    void on_system(std::string_view payload);
    void join_failed(const std::string& reason);

    WsClient ws_;
    SessionSink* sink_;
    const RunContext* ctx_;
    int index_;
    int channel_;
    State state_ = State::kNew;
    bool subscribed_ = false;
    bool opened_ = false;
    uint32_t next_ref_ = 2;  // "1" is the join
    int64_t started_at_ = 0;
};

}  // namespace lg
