// libwebsockets integration: one protocol that serves the WebSocket endpoints and the
// HTTP API on the same port (the HTTP side is server_http.cpp), the upgrade's
// authentication, frame reassembly and the write path, the 1 s tick, and the graceful
// shutdown (the sockets drained with 1012, as Supabase's nodes do).
#include "relay/io/server.h"
#include "relay/core/clock.h"

#include <ev.h>
#include <libwebsockets.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

#include "relay/io/http_api.h"
#include "relay/io/lws_request.h"
#include "relay/io/session.h"
#include "relay/protocol/errors.h"
#include "relay/core/log.h"

namespace rt {
namespace {

constexpr size_t kCoalesceBytes = 256 * 1024;  // one write gathers queued frames up to this

// Adaptive batching (see Server::run): how long the loop may keep reading input that is
// already waiting before it writes what that input produced.
constexpr int64_t kBatchWindowUs = 2000;

// How often requests past their deadline (--handshake-timeout-ms) are looked for.
constexpr int64_t kSweepUs = 100 * 1000;

// The shutdown's drain: sockets closed per batch, and the pause between batches.
constexpr size_t kDrainBatch = 1000;
constexpr int64_t kDrainIntervalUs = 100 * 1000;

bool is_websocket_path(std::string_view path) {
    return path == "/socket/websocket" || path == "/realtime/v1/websocket" || path == "/socket/websocket/" ||
           path == "/realtime/v1/websocket/";
}

}  // namespace

struct Server::Timer {
    lws_sorted_usec_list_t sul;  // first: the callback gets its address
    Server* server;
    void (Server::*fire)();
};

Server::Server(const Config& cfg, Metrics& metrics)
    : cfg_(cfg), metrics_(metrics), mailbox_([this] {
          if (context_) lws_cancel_service(context_);
      }),
      requests_(cfg.limits.handshake_timeout_ms),
      scratch_() {}

Server::~Server() {
    if (context_) lws_context_destroy(context_);
    if (loop_) ev_loop_destroy(loop_);
}

// No lws validity timers on client connections. lws 4.1 gives every WebSocket a
// default policy (ping after 300 s, hang up after 310 s) and arms it at establishment
// in a sorted list walked from the head: with N connections each new one costs O(N),
// which made a storm of 10 000 joins spend ~40 % of its CPU in lws_dll2_add_sorted.
// Dead or silent clients are closed by the hub's --idle-timeout instead. (A policy
// whose secs_since_valid_hangup is 0 turns the timers off for the vhost.)
static const lws_retry_bo_t kNoValidityTimers = {};

static const lws_protocols kProtocols[] = {
    {"realtime", reinterpret_cast<lws_callback_function*>(&Server::callback), sizeof(Session), 1024, 0, nullptr,
     kCoalesceBytes},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

// The requests a few hundred slow clients cannot exhaust: lws gives each connection a
// header table while its request is read (8 KiB, allocated as needed), and a connection
// that finds them all taken waits for one. With every request bounded by
// --handshake-timeout-ms, holding all of them takes thousands of new sockets a second.
constexpr unsigned short kHeaderTables = 4096;

void Server::fill_context_info(lws_context_creation_info& info) {
    memset(&info, 0, sizeof info);
    info.port = cfg_.listen_port;
    info.iface = cfg_.listen_host.c_str();
    info.protocols = kProtocols;
    info.user = this;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.max_http_header_data = 8192;
    info.max_http_header_pool = kHeaderTables;
    // lws's own bound on holding a header table (whole seconds), behind our deadline.
    info.timeout_secs_ah_idle = static_cast<unsigned>((cfg_.limits.handshake_timeout_ms + 999) / 1000);
    info.timeout_secs = 20;
    info.retry_and_idle_policy = &kNoValidityTimers;
    info.pt_serv_buf_size = 64 * 1024;
}

bool Server::start() {
    hub_ = std::make_unique<Hub>(cfg_, *this, metrics_, db_, cluster_, access_);
    refresh_clock();

    // lws logs to stderr by default; only its errors and warnings are worth a user's time.
    lws_set_log_level(LLL_ERR | (cfg_.log_level == log::Level::Debug ? LLL_WARN : 0), nullptr);

    lws_context_creation_info info;
    fill_context_info(info);
    // lws's own loop polls every descriptor on every turn, which at 10 000 connections
    // costs more than the messages themselves; libev's epoll only reports ready ones.
    // The loop is ours (foreign to lws), so run() decides when to stop turning it.
    loop_ = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (loop_) {
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = reinterpret_cast<void**>(&loop_);
        context_ = lws_create_context(&info);
        if (!context_) {
            LOG_WARN("libwebsockets' libev support is unavailable (package libwebsockets-evlib-ev): "
                     "falling back to poll(), which is slower with many connections");
            ev_loop_destroy(loop_);
            loop_ = nullptr;
            info.options &= ~static_cast<uint64_t>(LWS_SERVER_OPTION_LIBEV);
            info.foreign_loops = nullptr;
        }
    }
    if (!context_) context_ = lws_create_context(&info);
    if (!context_) {
        LOG_ERROR("cannot listen on %s:%d (address in use or not available)", cfg_.listen_host.c_str(),
                  cfg_.listen_port);
        return false;
    }
    max_connections_ = cfg_.limits.max_connections;
    tick_timer_ = make_timer(&Server::on_tick);
    schedule(*tick_timer_, LWS_US_PER_SEC);
    sweep_timer_ = make_timer(&Server::sweep_requests);
    schedule(*sweep_timer_, kSweepUs);
    return true;
}

std::unique_ptr<Server::Timer> Server::make_timer(void (Server::*fire)()) {
    auto t = std::make_unique<Timer>();
    memset(&t->sul, 0, sizeof t->sul);
    t->server = this;
    t->fire = fire;
    return t;
}

void Server::schedule(Timer& t, int64_t us) {
    lws_sul_schedule(context_, 0, &t.sul,
                     [](lws_sorted_usec_list_t* sul) {
                         Timer* timer = reinterpret_cast<Timer*>(sul);
                         (timer->server->*timer->fire)();
                     },
                     us);
}

// Adaptive batching. lws reads at most rx_buffer_size (1 KB, a few messages) from a
// socket per turn, so a publisher's backlog would otherwise be fanned out a few messages
// at a time, one write per subscriber each. While the last turn received messages, the
// loop serves once more without waiting (up to kBatchWindowUs) before flushing: under
// load a subscriber then gets several frames in one write, which is what the kernel's
// per-write cost rewards. A turn that finds nothing ready ends the batch at once, so an
// idle or lightly loaded relay writes as soon as it has read, as before.
void Server::run() {
    while (!finished_) {
        if (!loop_) {
            if (lws_service(context_, 0) < 0) break;
            flush_dirty();
            hub_->confirm_written();
            continue;
        }
        received_in_turn_ = 0;
        ev_run(loop_, EVRUN_ONCE);
        if (received_in_turn_ && !finished_) {
            int64_t deadline = mono_us() + kBatchWindowUs;
            do {
                received_in_turn_ = 0;
                ev_run(loop_, EVRUN_NOWAIT);
            } while (received_in_turn_ && !finished_ && mono_us() < deadline);
        }
        flush_dirty();
        hub_->confirm_written();  // what the sockets took this turn: confirmed at once, together
    }
}

void Server::stop() {
    stop_requested_.store(true);
    if (context_) lws_cancel_service(context_);
}

void Server::refresh_clock() {
    const int64_t now_ms = wall_ms();
    hub_->set_clock(mono_ms(), now_ms / 1000, now_ms);
}

// -- Transport ------------------------------------------------------------------------

void Server::request_write(Connection& conn) {
    // Corked: frames queued during this loop turn go out together at its end, one write
    // per connection however many messages it got (see flush_dirty).
    if (conn.dirty) return;
    conn.dirty = true;
    dirty_.push_back(&conn);
}

void Server::flush_dirty() {
    for (Connection* conn : dirty_) {
        conn->dirty = false;
        flush(*conn);
    }
    dirty_.clear();
}

void Server::flush(Connection& conn) {
    auto* wsi = static_cast<lws*>(conn.transport);
    if (!write_frames(wsi, conn)) {
        conn.closing = true;  // the writeable callback closes it
        metrics_.dropped_messages += conn.queue.frames();
        conn.queue.clear();
    }
    // The rest (or the close once the queue is out) when the socket has room.
    if (!conn.queue.empty() || conn.closing) lws_callback_on_writable(wsi);
}

void Server::close(Connection& conn, int code, std::string_view reason) {
    conn.closing = true;
    auto* wsi = static_cast<lws*>(conn.transport);
    lws_close_reason(wsi, static_cast<lws_close_status>(code),
                     reinterpret_cast<unsigned char*>(const_cast<char*>(reason.data())), reason.size());
    lws_callback_on_writable(wsi);
}

// -- callbacks ------------------------------------------------------------------------

int Server::callback(lws* wsi, int reason_int, void* user, void* in, size_t len) {
    auto reason = static_cast<lws_callback_reasons>(reason_int);
    lws_context* ctx = lws_get_context(wsi);
    auto* self = ctx ? static_cast<Server*>(lws_context_user(ctx)) : nullptr;
    if (!self || !self->hub_) return 0;
    self->refresh_clock();
    auto* session = static_cast<Session*>(user);

    switch (reason) {
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            return self->on_confirm_upgrade(wsi);
        case LWS_CALLBACK_ESTABLISHED:
            return self->on_established(wsi, user);
        case LWS_CALLBACK_RECEIVE:
            ++self->received_in_turn_;
            return self->on_receive(wsi, user, static_cast<const char*>(in), len);
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return self->on_writeable(wsi, user);
        case LWS_CALLBACK_CLOSED:
            self->on_closed(user);
            return 0;
        case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
            self->requests_.start(wsi, mono_ms());  // its request must arrive in time
            return 0;
        case LWS_CALLBACK_WSI_DESTROY:
            self->pending_upgrades_.erase(wsi);
            self->requests_.finish(wsi);
            self->forget_http(session);
            return 0;
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            self->on_wake();
            return 0;

        case LWS_CALLBACK_HTTP:
            return self->on_http(wsi, session, static_cast<const char*>(in), len);
        case LWS_CALLBACK_HTTP_BODY:
            self->on_http_body(session, static_cast<const char*>(in), len);
            return 0;
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            return self->on_http_body_done(wsi, session);
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return self->on_http_writeable(wsi, session);
        default:
            return 0;
    }
}



int Server::on_confirm_upgrade(lws* wsi) {
    std::string path = lws_header(wsi, WSI_TOKEN_GET_URI);
    if (!is_websocket_path(path)) return refuse_upgrade(wsi, 404, "no WebSocket endpoint at " + path);
    if (shutting_down_) return refuse_upgrade(wsi, 503, errors::kShuttingDown);

    std::string vsn = lws_url_arg(wsi, "vsn=");
    PendingUpgrade up;
    if (vsn.empty() || vsn == "1.0.0")
        up.vsn = phoenix::Vsn::V1;
    else if (vsn == "2.0.0")
        up.vsn = phoenix::Vsn::V2;
    else
        return refuse_upgrade(wsi, 400, "Unsupported protocol version vsn=" + vsn + " (use 1.0.0 or 2.0.0)");

    std::string token = lws_custom_header(wsi, "x-api-key:");
    if (token.empty()) token = lws_url_arg(wsi, "apikey=");
    JwtResult r = hub_->auth().verify(token, static_cast<int64_t>(time(nullptr)));
    if (!r.ok) return refuse_upgrade(wsi, 401, r.error);

    if (max_connections_ > 0 && static_cast<int>(hub_->connection_count() + pending_upgrades_.size()) >= max_connections_)
        return refuse_upgrade(wsi, 429, errors::kTooManyConnections);

    up.claims = std::move(r.claims);
    up.token = std::move(token);
    up.headers_json = lws_headers_json(wsi, cfg_.policy_headers);
    pending_upgrades_[wsi] = std::move(up);
    return 0;
}

int Server::on_established(lws* wsi, void* user) {
    auto it = pending_upgrades_.find(wsi);
    if (it == pending_upgrades_.end()) return -1;  // not through our upgrade check
    auto* s = static_cast<Session*>(user);
    PendingUpgrade up = std::move(it->second);
    pending_upgrades_.erase(it);
    requests_.finish(wsi);
    s->conn = hub_->open(wsi, up.vsn, std::move(up.claims), std::move(up.token), std::move(up.headers_json));
    return 0;
}

int Server::on_receive(lws* wsi, void* user, const char* in, size_t len) {
    auto* s = static_cast<Session*>(user);
    if (!s || !s->conn) return -1;
    bool first = lws_is_first_fragment(wsi), last = lws_is_final_fragment(wsi);
    bool binary = lws_frame_is_binary(wsi);
    if (first && last && !s->rx) {
        hub_->receive(*s->conn, std::string_view(in, len), binary);
        return 0;
    }
    if (!s->rx) s->rx = new std::string();
    if (static_cast<int64_t>(s->rx->size() + len) > cfg_.limits.max_frame_bytes) {
        metrics_.protocol_errors++;
        delete s->rx;
        s->rx = nullptr;
        std::string reason = "message larger than " + std::to_string(cfg_.limits.max_frame_bytes) + " bytes";
        close(*s->conn, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, reason);
        return 0;
    }
    s->rx->append(in, len);
    if (last && lws_remaining_packet_payload(wsi) == 0) {
        std::string message;
        message.swap(*s->rx);
        delete s->rx;
        s->rx = nullptr;
        hub_->receive(*s->conn, message, binary);
    }
    return 0;
}

// Writes the queued frames as one raw write of complete WebSocket frames, gathered up to
// kCoalesceBytes, unless lws still holds part of an earlier write. Complete frames only:
// lws keeps what the socket does not take and writes its own control frames (pong,
// close) after it, so frames never interleave. False on a write error.
bool Server::write_frames(lws* wsi, Connection& conn) {
    if (conn.queue.empty() || lws_partial_buffered(wsi)) return true;
    const Frame& first = conn.queue.front();
    const char* data = first.wire();
    size_t len = first.wire_size();
    size_t frames = 1;
    if (conn.queue.frames() > 1 && len < kCoalesceBytes) {
        scratch_.assign(data, len);
        while (frames < conn.queue.frames() &&
               scratch_.size() + conn.queue.at(frames).wire_size() <= kCoalesceBytes) {
            const Frame& next = conn.queue.at(frames++);
            scratch_.append(next.wire(), next.wire_size());
        }
        data = scratch_.data();
        len = scratch_.size();
    }
    auto* bytes = reinterpret_cast<unsigned char*>(const_cast<char*>(data));
    if (lws_write(wsi, bytes, len, LWS_WRITE_RAW) < static_cast<int>(len)) return false;
    metrics_.bytes_out += len;
    metrics_.messages_out += frames;
    for (size_t i = 0; i < frames; ++i) conn.queue.pop();
    hub_->written(conn);
    return true;
}

int Server::on_writeable(lws* wsi, void* user) {
    auto* s = static_cast<Session*>(user);
    if (!s || !s->conn) return 0;
    Connection& conn = *s->conn;
    if (!write_frames(wsi, conn)) return -1;
    if (!conn.queue.empty()) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    return conn.closing ? -1 : 0;
}

void Server::on_closed(void* user) {
    auto* s = static_cast<Session*>(user);
    if (!s) return;
    delete s->rx;
    s->rx = nullptr;
    if (s->conn) {
        Connection* c = s->conn;
        s->conn = nullptr;
        if (c->dirty) dirty_.erase(std::find(dirty_.begin(), dirty_.end(), c));
        hub_->closed(*c);
    }
    if (shutting_down_ && hub_->connection_count() == 0) finished_ = true;
}

void Server::on_wake() {
    mailbox_.drain(*hub_);
    if (stop_requested_.load() && !shutting_down_) begin_shutdown();
}

void Server::on_tick() {
    refresh_clock();
    hub_->tick();
    if (every_second) every_second();
    if (!shutting_down_) schedule(*tick_timer_, LWS_US_PER_SEC);
}

// Closes connections whose request did not arrive whole in time: a WebSocket upgrade,
// or an HTTP request's headers and body (the first, or the next on a kept-alive
// connection). Slow senders would otherwise hold lws's header tables for as long as
// they trickle bytes.
void Server::sweep_requests() {
    for (lws* wsi : requests_.expired(mono_ms())) {
        metrics_.requests_timed_out++;
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_REASON_BASE, LWS_TO_KILL_ASYNC);
    }
    schedule(*sweep_timer_, kSweepUs);
}

void Server::begin_shutdown() {
    shutting_down_ = true;
    LOG_INFO("shutting down: closing %zu connections (1012, service restart)", hub_->connection_count());
    if (on_shutdown) on_shutdown();
    hub_->begin_drain();
    drain_timer_ = make_timer(&Server::drain_step);
    drain_step();
}

// Closes the sockets in batches, so that their clients' reconnections spread over time as
// with Phoenix's socket drainer (joins meanwhile get RealtimeRestarting); then gives the
// clients that do not answer the close handshake 2 s.
void Server::drain_step() {
    if (hub_->drain(kDrainBatch) > 0) {
        schedule(*drain_timer_, kDrainIntervalUs);
        return;
    }
    if (hub_->connection_count() == 0) {
        finish_shutdown();
        return;
    }
    // Clients that do not answer the close handshake get 2 s.
    shutdown_timer_ = make_timer(&Server::finish_shutdown);
    schedule(*shutdown_timer_, 2 * LWS_US_PER_SEC);
}

void Server::finish_shutdown() {
    finished_ = true;
    // lws runs timers before it polls, in the same lws_service call: wake that poll, or
    // run() sees finished_ only at lws's next housekeeping, up to 30 s later.
    lws_cancel_service(context_);
}

}  // namespace rt
