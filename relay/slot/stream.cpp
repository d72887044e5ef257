// Streaming the pg_realtime slot: slot creation, START_REPLICATION, the copy stream's
// messages (XLogData 'w', keepalive 'k'), standby status updates, and reconnection.
#include "relay/slot/stream.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "relay/core/bytes.h"
#include "relay/core/clock.h"
#include "relay/core/ids.h"
#include "relay/core/log.h"
#include "relay/io/pg.h"
#include "relay/slot/plugin_doc.h"

namespace rt {
namespace {

constexpr int64_t kStatusIntervalMs = 1000;
constexpr int64_t kPgEpochOffsetUs = 946684800LL * 1000000LL;  // 2000-01-01 in Unix time

int64_t pg_now_us() {
    auto unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    return unix_us - kPgEpochOffsetUs;
}

std::string quote_ident(const std::string& s) {
    std::string q = "\"";
    for (char c : s) {
        if (c == '"') q.push_back('"');
        q.push_back(c);
    }
    return q + "\"";
}

// Sleeps up to ms, in small steps so that stop() is prompt.
void nap(const std::atomic<bool>& running, int ms) {
    for (int slept = 0; running.load() && slept < ms; slept += 50)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

std::string replication_app_name(const std::string& node) { return "realtime-relay " + node + " replication"; }

// Ends the walsenders of hung holders (issue 14, fault 5), found by the application name
// their relay gave its replication connection, on a session of its own: the slot is free
// once they exit instead of after wal_sender_timeout. The trade-off: a holder that was
// only slow (its heartbeats late by Config::holder_silence_ms) loses the slot too; it
// notices (SlotStream::stream's stall check, the hand-over's replay guards) and nothing
// is lost, but a new holder replays from the confirmed position. Needs the relay's role
// to be the walsenders' (or pg_signal_backend). The number ended.
int end_walsenders(const Config& cfg, const std::vector<std::string>& nodes) {
    std::unique_ptr<PGconn, void (*)(PGconn*)> c(pg_connect(cfg.db, "realtime-relay " + cfg.node_id + " takeover", false),
                                                  PQfinish);
    if (PQstatus(c.get()) != CONNECTION_OK) return 0;
    std::string names = "{";
    for (const std::string& node : nodes) {
        names += names.size() > 1 ? ",\"" : "\"";
        for (char ch : replication_app_name(node)) {
            if (ch == '"' || ch == '\\') names.push_back('\\');
            names.push_back(ch);
        }
        names += "\"";
    }
    names += "}";
    PgResult r = pg_exec_params(c.get(),
                                "SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid)) FROM pg_replication_slots s "
                                "JOIN pg_stat_activity a ON a.pid = s.active_pid "
                                "WHERE s.slot_name = $1 AND a.application_name = ANY ($2::text[])",
                                {cfg.slot, names});
    if (PQresultStatus(r.res) != PGRES_TUPLES_OK) {
        LOG_WARN("cannot end a hung slot holder's walsender: %s", pg_error_message(c.get(), r.res).c_str());
        return 0;
    }
    return atoi(PQgetvalue(r.res, 0, 0));
}

// The slot exists with our plugin, or is created (permanent, so no committed change is
// lost across restarts); false when it belongs to another plugin. A replication
// connection takes only simple queries: the name goes in as a literal.
bool ensure_slot(PGconn* c, const std::string& name) {
    char* literal = PQescapeLiteral(c, name.c_str(), name.size());
    std::string quoted = literal ? literal : "''";
    PQfreemem(literal);
    PgResult r = pg_exec(c, ("SELECT plugin FROM pg_replication_slots WHERE slot_name = " + quoted).c_str());
    bool exists = PQresultStatus(r.res) == PGRES_TUPLES_OK && PQntuples(r.res) > 0;
    std::string plugin = exists ? PQgetvalue(r.res, 0, 0) : "";
    if (exists && plugin != "pg_realtime") {
        LOG_ERROR("slot %s exists with output plugin %s, not pg_realtime; choose another --slot", name.c_str(),
                  plugin.c_str());
        return false;
    }
    if (exists) return true;
    PgResult created = pg_exec(c, ("SELECT pg_create_logical_replication_slot(" + quoted + ", 'pg_realtime')").c_str());
    const char* state = PQresultErrorField(created.res, PG_DIAG_SQLSTATE);
    if (PQresultStatus(created.res) == PGRES_TUPLES_OK)
        LOG_INFO("created replication slot %s", name.c_str());
    else if (!state || strcmp(state, "42710") != 0)  // another relay created it first
        LOG_WARN("cannot create replication slot %s: %s", name.c_str(), pg_error_message(c, created.res).c_str());
    return true;
}

}  // namespace

SlotStream::SlotStream(const Config& cfg, Metrics& metrics, AckTracker& ack, SlotRouter& router, HandOverInbox& inbox,
                       SlotElection election)
    : cfg_(cfg), metrics_(metrics), ack_(ack), router_(router), inbox_(inbox), election_(std::move(election)) {}

SlotStream::~SlotStream() { stop(); }

void SlotStream::start() {
    running_ = true;
    thread_ = std::thread([this] { run(); });
}

void SlotStream::stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
}

void SlotStream::run() {
    int backoff_ms = 0;
    bool announced_wait = false;
    while (running_) {
        if (election_.may_take && !election_.may_take()) {
            nap(running_, 1000);
            continue;
        }
        bool busy = !stream_once();
        if (!running_) break;
        if (busy) {
            if (!announced_wait) LOG_INFO("slot %s is held by another relay; trying again every second", cfg_.slot.c_str());
            announced_wait = true;
            backoff_ms = 0;
            wait_while_busy();
        } else {
            announced_wait = false;
            backoff_ms = backoff_ms ? std::min(backoff_ms * 2, 5000) : 500;
            nap(running_, backoff_ms);
        }
    }
}

// A second before trying the busy slot again, or less when a holder hung: its walsender
// is ended (at most once a second) and the slot tried every 100 ms for the next two.
void SlotStream::wait_while_busy() {
    for (int waited = 0; running_ && waited < 1000; waited += 100) {
        std::vector<std::string> hung = election_.hung_holders ? election_.hung_holders() : std::vector<std::string>{};
        int64_t now = mono_ms();
        if (!hung.empty() && now - last_takeover_ms_ >= 1000) {
            last_takeover_ms_ = now;
            int ended = end_walsenders(cfg_, hung);
            LOG_INFO("the slot holder %s went silent: ended %d walsender(s) of it to take over", hung[0].c_str(), ended);
        }
        if (!hung.empty() && now - last_takeover_ms_ < 2000) return;
        nap(running_, 100);
    }
}

bool SlotStream::stream_once() {
    PGconn* c = pg_connect(cfg_.db, replication_app_name(cfg_.node_id), true);
    struct Closer {
        PGconn* c;
        ~Closer() { PQfinish(c); }
    } closer{c};
    if (PQstatus(c) != CONNECTION_OK) {
        LOG_WARN("replication connection failed: %s", pg_error_message(c).c_str());
        report_state(false, false);
        return true;
    }
    report_state(true, false);
    Opened opened = open_slot(c);
    if (opened != Opened::Streaming) return opened != Opened::Busy;
    stream(c);
    return true;
}

SlotStream::Opened SlotStream::open_slot(PGconn* c) {
    if (!ensure_slot(c, cfg_.slot)) return Opened::Failed;
    // A holder that hangs (stopped, swapping, partitioned from its peers) keeps its TCP
    // connection, and so the slot, until its walsender times out: the server's default is
    // 60 s. We answer keepalives at once and report progress every second, so a few
    // seconds of silence mean a hung holder, and another relay takes over.
    std::string sender_timeout = std::to_string(std::max(cfg_.peer_down_ms + 2000, 5000));
    PgResult timeout = pg_exec(c, ("SET wal_sender_timeout = " + sender_timeout).c_str());
    if (PQresultStatus(timeout.res) != PGRES_COMMAND_OK)
        LOG_WARN("cannot set wal_sender_timeout: %s", pg_error_message(c, timeout.res).c_str());

    std::string start = "START_REPLICATION SLOT " + quote_ident(cfg_.slot) +
                        " LOGICAL 0/0 (\"subscription-events\" 'true', \"arrays-as-json\" 'true')";
    PgResult r = pg_exec(c, start.c_str());
    if (PQresultStatus(r.res) == PGRES_COPY_BOTH) return Opened::Streaming;
    const char* state = PQresultErrorField(r.res, PG_DIAG_SQLSTATE);
    bool busy = state && strcmp(state, "55006") == 0;
    if (!busy) LOG_WARN("START_REPLICATION failed: %s", pg_error_message(c, r.res).c_str());
    return busy ? Opened::Busy : Opened::Failed;
}

void SlotStream::stream(PGconn* c) {
    holding_ = true;
    metrics_.slot_holder = 1;
    report_state(true, true);
    ack_.restart(random_u64());
    router_.restart();
    LOG_INFO("streaming replication slot %s", cfg_.slot.c_str());

    bool ok = true;
    int64_t next_release_check_ms = mono_ms() + 500;
    int64_t last_turn_ms = mono_ms();
    while (running_ && ok) {
        if (mono_ms() - last_turn_ms > cfg_.stall_ms()) {
            // Stopped (SIGSTOP, swapping) long enough for a standby to have taken over: let
            // go before routing or acknowledging anything (issue 14, fault 5).
            LOG_WARN("this relay did not run for %lld ms: another may hold the slot now; letting it go",
                     static_cast<long long>(mono_ms() - last_turn_ms));
            break;
        }
        last_turn_ms = mono_ms();
        if (election_.should_release && mono_ms() >= next_release_check_ms) {
            next_release_check_ms = mono_ms() + 500;
            if (election_.should_release()) {
                LOG_INFO("the slot election asks for the slot back (no majority of the cluster in sight, or a "
                         "relay of the database's region is up): giving it back");
                send_status(c);
                break;
            }
        }
        router_.service();  // documents whose checks finished go on
        serve_hand_over();
        char* buf = nullptr;
        int len = PQgetCopyData(c, &buf, 1);
        if (len > 0) {
            ok = handle_copy_message(c, buf, len);
            PQfreemem(buf);
            continue;
        }
        if (len == 0) {
            // Report progress every second, and soon after it advances, so that a
            // failover replays little.
            int64_t since = mono_ms() - last_status_ms_;
            if (since >= kStatusIntervalMs || (since >= 10 && ack_.position(mono_ms()) > ack_.last_confirmed()))
                ok = send_status(c);
            pollfd p[2] = {{PQsocket(c), POLLIN, 0}, {router_.wake_fd(), POLLIN, 0}};
            poll(p, p[1].fd >= 0 ? 2 : 1, 100);
            if (PQconsumeInput(c) == 0) {
                LOG_WARN("replication stream lost: %s", pg_error_message(c).c_str());
                ok = false;
            }
            continue;
        }
        if (len == -1) {
            PgResult end(PQgetResult(c));
            LOG_WARN("replication stream ended by the server: %s", pg_error_message(c, end.res).c_str());
        } else {
            LOG_WARN("replication stream failed: %s", pg_error_message(c).c_str());
        }
        ok = false;
    }
    if (!running_ && ok) send_status(c);  // a last acknowledgement before letting go (not after a stall)
    router_.restart();  // what still waits comes again to whoever streams next
    holding_ = false;
    metrics_.slot_holder = 0;
    metrics_.slot_lag_ms = 0;
    report_state(true, false);
    LOG_INFO("released replication slot %s", cfg_.slot.c_str());
}

// What peers confirmed, resends that are due, and nodes the hand-over gave up on.
void SlotStream::serve_hand_over() {
    int64_t now = mono_ms();
    inbox_.drain(ack_.hand_over(), now);
    if (now - last_hand_over_ms_ < 20) return;
    last_hand_over_ms_ = now;
    std::vector<std::string> gone;
    router_.hand_over_due(now, gone);
    for (const std::string& node : gone) {
        LOG_WARN("node %s has not confirmed its changes for %lld ms (or they passed %lld bytes): it is gone, its "
                 "subscriptions are removed",
                 node.c_str(), static_cast<long long>(cfg_.gone_after_ms()),
                 static_cast<long long>(cfg_.handover_backlog_bytes));
        if (election_.node_gone) election_.node_gone(node);
    }
}

bool SlotStream::handle_copy_message(PGconn* c, const char* buf, int len) {
    if (buf[0] == 'w' && len >= 25) {
        uint64_t wal_end = bytes::get_be64(buf + 9);
        if (wal_end > server_wal_end_) server_wal_end_ = wal_end;
        handle_document(std::string_view(buf + 25, static_cast<size_t>(len - 25)));
        return true;
    }
    if (buf[0] == 'k' && len >= 18) {
        uint64_t wal_end = bytes::get_be64(buf + 1);
        bool reply = buf[17] != 0;
        if (wal_end > server_wal_end_) server_wal_end_ = wal_end;
        // Everything before a keepalive has been sent to us: its position is safe to
        // acknowledge once what we handed over is done.
        ack_.reached(wal_end, mono_ms());
        if (reply) return send_status(c);
        return true;
    }
    return true;
}

void SlotStream::handle_document(std::string_view text) {
    PluginDoc doc;
    std::string error;
    if (!parse_plugin_doc(text, doc, error)) {
        LOG_ERROR("unreadable document from the pg_realtime plugin (%s): %.200s", error.c_str(),
                  std::string(text).c_str());
        return;
    }
    ack_.reached(doc.pos.commit_lsn, mono_ms());
    router_.route(std::move(doc), mono_us());
}

void SlotStream::report_state(bool competes, bool holding) {
    if (election_.report) election_.report(competes, holding);
}

bool SlotStream::send_status(PGconn* c) {
    uint64_t ack = ack_.confirm(mono_ms());
    char msg[34];
    msg[0] = 'r';
    bytes::put_be64(msg + 1, ack);
    bytes::put_be64(msg + 9, ack);
    bytes::put_be64(msg + 17, ack);
    bytes::put_be64(msg + 25, static_cast<uint64_t>(pg_now_us()));
    msg[33] = 0;
    last_status_ms_ = mono_ms();
    metrics_.slot_lag_bytes = server_wal_end_ > ack ? static_cast<int64_t>(server_wal_end_ - ack) : 0;
    metrics_.slot_lag_ms = ack_.waiting_ms(last_status_ms_);
    if (PQputCopyData(c, msg, sizeof msg) != 1 || PQflush(c) != 0) {
        LOG_WARN("sending a standby status update failed: %s", pg_error_message(c).c_str());
        return false;
    }
    return true;
}

}  // namespace rt
