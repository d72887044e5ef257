// The libwebsockets side of the relay (I/O only): the listening socket, the WebSocket
// upgrade and its authentication, reading and writing frames, the HTTP endpoints, timers,
// and the mailbox behind the loop's inbound port (how other threads reach the loop).
// Protocol decisions are the hub's.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "relay/core/config.h"
#include "relay/core/deadline_queue.h"
#include "relay/hub/hub.h"
#include "relay/hub/loop_inbound.h"
#include "relay/core/mailbox.h"
#include "relay/core/metrics.h"

struct lws;
struct lws_context;
struct lws_context_creation_info;
struct ev_loop;

namespace rt {

class HttpApi;
struct Session;  // lws's per-connection memory (server.cpp)

class Server : public Transport {
public:
    Server(const Config& cfg, Metrics& metrics);
    ~Server() override;

    // Creates the listening socket; false (with a logged reason) if it cannot.
    bool start();
    // Serves until stop() is called and the shutdown has completed.
    void run();
    // Any thread, and async-signal-safe enough for SIGTERM/SIGINT: asks the loop to stop.
    void stop();

    Hub& hub() { return *hub_; }
    // How other threads reach the loop (any thread, any time after construction).
    LoopInbound& inbound() { return inbound_; }
    // Before start(): the ports the hub uses. After start(): the HTTP API (it needs the hub).
    void attach(DbPort* db, ClusterPort* cluster, AccessPort* access = nullptr) {
        db_ = db;
        cluster_ = cluster;
        access_ = access;
    }
    void set_http(HttpApi* http);
    // Called on the loop thread once stop() was requested, before connections close.
    std::function<void()> on_shutdown;
    // Called on the loop thread once a second, after the hub's tick (the inspector's sampling).
    std::function<void()> every_second;

    // Transport
    void request_write(Connection& conn) override;
    void close(Connection& conn, int code, std::string_view reason) override;

    // The loop's clock, refreshed on every callback.
    void refresh_clock();

    static int callback(lws* wsi, int reason, void* user, void* in, size_t len);

private:
    struct PendingUpgrade {
        phoenix::Vsn vsn;
        Claims claims;
        std::string token;
        std::string headers_json;
    };

    int on_confirm_upgrade(lws* wsi);
    int on_established(lws* wsi, void* user);
    int on_receive(lws* wsi, void* user, const char* in, size_t len);
    int on_writeable(lws* wsi, void* user);
    bool write_frames(lws* wsi, Connection& conn);
    void flush(Connection& conn);
    void flush_dirty();
    void on_closed(void* user);
    void on_wake();
    void on_tick();
    void sweep_requests();
    void begin_shutdown();
    void drain_step();
    void finish_shutdown();
    void fill_context_info(lws_context_creation_info& info);
    struct Timer;
    std::unique_ptr<Timer> make_timer(void (Server::*fire)());
    void schedule(Timer& timer, int64_t us);
    int refuse_upgrade(lws* wsi, int status, const std::string& message);
    int refuse_request(lws* wsi, int status, const std::string& message);
    // HTTP (server_http.cpp)
    int on_http(lws* wsi, Session* session, const char* path, size_t len);
    void on_http_body(Session* session, const char* in, size_t len);
    int on_http_body_done(lws* wsi, Session* session);
    int on_http_writeable(lws* wsi, Session* session);
    int answer_http(lws* wsi, Session* session, struct HttpResponse response);
    void answer_deferred(uint64_t id, struct HttpResponse response);
    void forget_http(Session* session);

    const Config& cfg_;
    Metrics& metrics_;
    ev_loop* loop_ = nullptr;  // libev (epoll), driven by run()
    lws_context* context_ = nullptr;
    std::unique_ptr<Hub> hub_;
    Mailbox<Hub> mailbox_;
    MailboxInbound inbound_{mailbox_};
    DbPort* db_ = nullptr;
    ClusterPort* cluster_ = nullptr;
    AccessPort* access_ = nullptr;
    HttpApi* http_ = nullptr;
    std::unordered_map<lws*, PendingUpgrade> pending_upgrades_;
    std::unordered_map<uint64_t, lws*> deferred_http_;  // HttpResponse::deferred -> its request
    std::atomic<bool> stop_requested_{false};
    bool shutting_down_ = false;
    bool finished_ = false;
    int max_connections_ = 0;
    DeadlineQueue<lws*> requests_;       // connections whose request has not arrived whole yet
    std::unique_ptr<Timer> tick_timer_;
    std::unique_ptr<Timer> sweep_timer_;
    std::unique_ptr<Timer> drain_timer_;
    std::unique_ptr<Timer> shutdown_timer_;
    std::string scratch_;                // frames gathered into one write
    std::vector<Connection*> dirty_;     // connections with frames queued this loop turn
    uint64_t received_in_turn_ = 0;      // WebSocket messages read in this loop turn
};

}  // namespace rt
