// Streaming the pg_realtime slot: slot creation, START_REPLICATION, the copy stream's
// messages (XLogData 'w', keepalive 'k'), standby status updates, and reconnection.
#include "relay/slot/replication.h"
#include "relay/core/clock.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "relay/protocol/payloads.h"
#include "relay/slot/plugin_doc.h"
#include "relay/io/db_worker.h"
#include "relay/core/log.h"

namespace rt {
namespace {

constexpr int64_t kStatusIntervalMs = 1000;
constexpr int64_t kSettleMs = 50;
constexpr int64_t kPgEpochOffsetUs = 946684800LL * 1000000LL;  // 2000-01-01 in Unix time

int64_t pg_now_us() {
    auto unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    return unix_us - kPgEpochOffsetUs;
}

uint64_t read_u64(const char* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

void write_u64(char* p, uint64_t v) {
    for (int i = 7; i >= 0; --i) {
        p[i] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
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

}  // namespace

Replication::Replication(const Config& cfg, Metrics& metrics, Routes routes)
    : cfg_(cfg), metrics_(metrics), routes_(std::move(routes)) {}

Replication::~Replication() { stop(); }

void Replication::start() {
    running_ = true;
    thread_ = std::thread([this] { run(); });
}

void Replication::stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
}

void Replication::local_done(uint64_t commit_lsn, uint64_t held_floor) {
    if (commit_lsn) done_lsn_.store(commit_lsn);
    held_floor_.store(held_floor);
    done_.fetch_add(1);
}

void Replication::run() {
    int backoff_ms = 0;
    bool announced_wait = false;
    while (running_) {
        if (routes_.may_take_slot && !routes_.may_take_slot()) {
            nap(running_, 1000);
            continue;
        }
        bool busy = !stream_once();
        if (!running_) break;
        if (busy) {
            if (!announced_wait) LOG_INFO("slot %s is held by another relay; trying again every second", cfg_.slot.c_str());
            announced_wait = true;
            backoff_ms = 0;
            nap(running_, 1000);
        } else {
            announced_wait = false;
            backoff_ms = backoff_ms ? std::min(backoff_ms * 2, 5000) : 500;
            nap(running_, backoff_ms);
        }
    }
}

bool Replication::stream_once() {
    PGconn* c = pg_connect(cfg_.db, "realtime-relay " + cfg_.node_id + " replication", true);
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

    // The slot is permanent, so no committed change is lost across restarts. A
    // replication connection takes only simple queries: the name goes in as a literal.
    const char* slot = cfg_.slot.c_str();
    char* literal = PQescapeLiteral(c, slot, cfg_.slot.size());
    std::string quoted = literal ? literal : "''";
    PQfreemem(literal);
    PGresult* r = PQexec(c, ("SELECT plugin FROM pg_replication_slots WHERE slot_name = " + quoted).c_str());
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
    std::string plugin = exists ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    if (exists && plugin != "pg_realtime") {
        LOG_ERROR("slot %s exists with output plugin %s, not pg_realtime; choose another --slot", slot, plugin.c_str());
        return true;
    }
    if (!exists) {
        r = PQexec(c, ("SELECT pg_create_logical_replication_slot(" + quoted + ", 'pg_realtime')").c_str());
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            LOG_INFO("created replication slot %s", slot);
        else if (!state || strcmp(state, "42710") != 0)  // another relay created it first
            LOG_WARN("cannot create replication slot %s: %s", slot, pg_error_message(c, r).c_str());
        PQclear(r);
    }

    // A holder that hangs (stopped, swapping, partitioned from its peers) keeps its TCP
    // connection, and so the slot, until its walsender times out: the server's default is
    // 60 s. We answer keepalives at once and report progress every second, so a few
    // seconds of silence mean a hung holder, and another relay takes over.
    std::string sender_timeout = std::to_string(std::max(cfg_.peer_down_ms + 2000, 5000));
    r = PQexec(c, ("SET wal_sender_timeout = " + sender_timeout).c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        LOG_WARN("cannot set wal_sender_timeout: %s", pg_error_message(c, r).c_str());
    PQclear(r);

    std::string start = "START_REPLICATION SLOT " + quote_ident(cfg_.slot) +
                        " LOGICAL 0/0 (\"subscription-events\" 'true', \"arrays-as-json\" 'true')";
    r = PQexec(c, start.c_str());
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        bool busy = state && strcmp(state, "55006") == 0;
        if (!busy) LOG_WARN("START_REPLICATION failed: %s", pg_error_message(c, r).c_str());
        PQclear(r);
        return !busy;
    }
    PQclear(r);

    holding_ = true;
    metrics_.slot_holder = 1;
    report_state(true, true);
    received_lsn_ = 0;
    reached_.clear();
    last_sent_ack_ = 0;
    LOG_INFO("streaming replication slot %s", slot);

    bool ok = true;
    int64_t next_release_check_ms = mono_ms() + 500;
    while (running_ && ok) {
        if (routes_.should_release && mono_ms() >= next_release_check_ms) {
            next_release_check_ms = mono_ms() + 500;
            if (routes_.should_release()) {
                LOG_INFO("a relay of the database's region is up: giving the slot back");
                send_status(c, false);
                break;
            }
        }
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
            if (since >= kStatusIntervalMs || (since >= 10 && ack_position() > last_sent_ack_))
                ok = send_status(c, false);
            pollfd p{PQsocket(c), POLLIN, 0};
            poll(&p, 1, 100);
            if (PQconsumeInput(c) == 0) {
                LOG_WARN("replication stream lost: %s", pg_error_message(c).c_str());
                ok = false;
            }
            continue;
        }
        if (len == -1) {
            PGresult* end = PQgetResult(c);
            LOG_WARN("replication stream ended by the server: %s", pg_error_message(c, end).c_str());
            PQclear(end);
        } else {
            LOG_WARN("replication stream failed: %s", pg_error_message(c).c_str());
        }
        ok = false;
    }
    if (!running_ && ok) send_status(c, false);  // a last acknowledgement before letting go
    holding_ = false;
    metrics_.slot_holder = 0;
    report_state(true, false);
    LOG_INFO("released replication slot %s", slot);
    return true;
}

bool Replication::handle_copy_message(PGconn* c, const char* buf, int len) {
    if (buf[0] == 'w' && len >= 25) {
        uint64_t wal_end = read_u64(buf + 9);
        if (wal_end > server_wal_end_) server_wal_end_ = wal_end;
        handle_document(std::string_view(buf + 25, static_cast<size_t>(len - 25)));
        return true;
    }
    if (buf[0] == 'k' && len >= 18) {
        uint64_t wal_end = read_u64(buf + 1);
        bool reply = buf[17] != 0;
        if (wal_end > server_wal_end_) server_wal_end_ = wal_end;
        // Everything before a keepalive has been sent to us: its position is safe to
        // acknowledge once what we handed over is done.
        advance_received(wal_end);
        if (reply) return send_status(c, true);
        return true;
    }
    return true;
}

void Replication::handle_document(std::string_view text) {
    PluginDoc doc;
    std::string error;
    if (!parse_plugin_doc(text, doc, error)) {
        LOG_ERROR("unreadable document from the pg_realtime plugin (%s): %.200s", error.c_str(),
                  std::string(text).c_str());
        return;
    }
    advance_received(doc.pos.commit_lsn);
    int64_t now = mono_us();
    switch (doc.type) {
        case PluginDoc::Type::Broadcast:
            posted_.fetch_add(1);
            routes_.broadcast(std::move(doc.broadcast));
            break;
        case PluginDoc::Type::Subscribed:
        case PluginDoc::Type::Row:
            for (auto& [node, ids] : doc.targets) {
                ChangeEvent ev;
                ev.kind = doc.type == PluginDoc::Type::Row ? ChangeEvent::Kind::Row : ChangeEvent::Kind::Subscribed;
                ev.pos = doc.pos;
                ev.received_us = now;
                if (ev.kind == ChangeEvent::Kind::Row) ev.payload = payloads::postgres_changes(ids, doc.data_json);
                ev.ids = std::move(ids);
                route(node, std::move(ev));
            }
            break;
    }
}

void Replication::route(const std::string& node, ChangeEvent&& ev) {
    if (node == cfg_.node_id) {
        posted_.fetch_add(1);
        routes_.local(std::move(ev));
        return;
    }
    if (!routes_.remote || !routes_.remote(node, ev)) metrics_.dropped_messages++;
}

void Replication::report_state(bool competes, bool holding) {
    if (routes_.slot_state) routes_.slot_state(competes, holding);
}

void Replication::advance_received(uint64_t lsn) {
    if (lsn <= received_lsn_) return;
    received_lsn_ = lsn;
    int64_t now = mono_ms();
    if (!reached_.empty() && reached_.back().first == now)
        reached_.back().second = lsn;
    else
        reached_.emplace_back(now, lsn);
}

uint64_t Replication::settled_position() const {
    uint64_t settled = 0;
    int64_t horizon = mono_ms() - kSettleMs;
    for (const auto& [at, lsn] : reached_) {
        if (at > horizon) break;
        settled = lsn;
    }
    return settled;
}

uint64_t Replication::ack_position() const {
    // All handed over and done: the stream's settled position. Otherwise what the loop finished.
    uint64_t received = settled_position();
    uint64_t ack = done_.load() == posted_.load() ? received : std::min(done_lsn_.load(), received);
    uint64_t floor = held_floor_.load();
    if (floor && floor < ack) ack = floor;  // a change held for a resuming client is replayed
    return ack;
}

bool Replication::send_status(PGconn* c, bool reply_requested) {
    uint64_t ack = ack_position();
    if (ack < last_sent_ack_) ack = last_sent_ack_;  // never move backwards
    while (reached_.size() > 1 && reached_[1].second <= ack) reached_.pop_front();
    char msg[34];
    msg[0] = 'r';
    write_u64(msg + 1, ack);
    write_u64(msg + 9, ack);
    write_u64(msg + 17, ack);
    write_u64(msg + 25, static_cast<uint64_t>(pg_now_us()));
    msg[33] = 0;
    last_status_ms_ = mono_ms();
    last_sent_ack_ = ack;
    metrics_.slot_lag_bytes = server_wal_end_ > ack ? static_cast<int64_t>(server_wal_end_ - ack) : 0;
    (void)reply_requested;
    if (PQputCopyData(c, msg, sizeof msg) != 1 || PQflush(c) != 0) {
        LOG_WARN("sending a standby status update failed: %s", pg_error_message(c).c_str());
        return false;
    }
    return true;
}

}  // namespace rt
