// Owns: the worker thread's loop and pacing (see worker.h).
#include "bench/loadgen/worker.h"

#include <algorithm>
#include <cmath>

#include "bench/loadgen/clock.h"
#include "bench/loadgen/pg_changes.h"

namespace lg {

namespace {
constexpr int64_t kHousekeepingNs = 10 * 1000 * 1000;
constexpr int64_t kStallNs = 1000 * 1000 * 1000;
}  // namespace

Worker::Worker(int id, RunContext* ctx, int total_workers)
    : id_(id), ctx_(ctx), total_workers_(total_workers), live_(*ctx->live[size_t(id)]) {}

Worker::~Worker() {
    if (thread_.joinable()) thread_.join();
}

void Worker::add_client(int index, int channel) {
    sessions_.push_back(std::make_unique<Session>(&loop_, this, ctx_, index, channel));
}

void Worker::add_publisher(int index, std::vector<int> channels) {
    pub_specs_.emplace_back(index, std::move(channels));
}

void Worker::start() {
    thread_ = std::thread([this] { run(); });
}

void Worker::join() {
    loop_.wake();
    if (thread_.joinable()) thread_.join();
}

void Worker::run() {
    int64_t now = mono_ns();
    for (auto& [index, channels] : pub_specs_) {
        pubs_.push_back(make_publisher(&loop_, this, ctx_, index, channels));
        pubs_.back()->start(now);
    }
    last_connect_ns_ = last_hb_ns_ = last_progress_ns_ = now;
    while (!ctx_->stop.load(std::memory_order_relaxed)) {
        bool publishing = ctx_->publishing.load(std::memory_order_relaxed);
        win_start_ = ctx_->win_start_ns.load(std::memory_order_relaxed);
        win_end_ = ctx_->win_end_ns.load(std::memory_order_relaxed);
        bool active = publishing && !pubs_.empty() && now < win_end_;
        bool pacing_connects = next_connect_ < sessions_.size() && ctx_->opt.connect_rate > 0;
        loop_.run_once(active ? 1 : pacing_connects ? 2 : 10);
        now = mono_ns();
        pump_connects(now);
        if (active) pump_publish(now);
        if (now >= next_housekeeping_) {
            housekeeping(now);
            next_housekeeping_ = now + kHousekeepingNs;
        }
    }
    finish();
}

void Worker::finish() {
    for (auto& s : sessions_) {
        if (ctx_->opt.print_ids) res_.ids.emplace_back(s->index(), std::move(s->ids));
        s->close();
    }
    for (auto& p : pubs_) p->abort();
}

void Worker::pump_connects(int64_t now) {
    if (next_connect_ >= sessions_.size()) return;
    double rate = ctx_->opt.connect_rate / total_workers_;
    if (rate > 0) {
        connect_credit_ += double(now - last_connect_ns_) * rate / 1e9;
        connect_credit_ = std::min(connect_credit_, std::max(1.0, rate * 0.01));
    }
    last_connect_ns_ = now;
    while (next_connect_ < sessions_.size() && pending_ < ctx_->opt.max_pending &&
           (rate <= 0 || connect_credit_ >= 1)) {
        Session* s = sessions_[next_connect_++].get();
        pending_++;
        bump(live_.started);
        pending_q_.push_back(s);
        s->start(now);
        connect_credit_ -= 1;
    }
}

void Worker::housekeeping(int64_t now) {
    expire_pending(now);
    send_heartbeats(now);
    uint64_t ready = 0;
    for (auto& p : pubs_) {
        p->maintain(now);
        if (p->ready()) ready++;
    }
    live_.publishers_ready.store(ready, std::memory_order_relaxed);
}

void Worker::expire_pending(int64_t now) {
    int64_t limit = sec_to_ns(ctx_->opt.connect_timeout);
    while (!pending_q_.empty()) {
        Session* s = pending_q_.front();
        if (s->state() != Session::State::kPending) {
            pending_q_.pop_front();
            continue;
        }
        if (now - s->started_at() < limit) break;
        pending_q_.pop_front();
        s->fail_timeout();
    }
}

void Worker::send_heartbeats(int64_t now) {
    double interval = ctx_->opt.heartbeat;
    int64_t dt = now - last_hb_ns_;
    last_hb_ns_ = now;
    if (interval <= 0 || sessions_.empty()) return;
    hb_credit_ += double(sessions_.size()) * double(dt) / (interval * 1e9);
    while (hb_credit_ >= 1) {
        hb_credit_ -= 1;
        Session* s = sessions_[hb_cursor_++ % sessions_.size()].get();
        if (s->state() != Session::State::kJoined) continue;
        s->send_heartbeat();
        bump(live_.heartbeats_sent);
    }
}

void Worker::pump_publish(int64_t now) {
    if (now < ctx_->pub_start_ns.load(std::memory_order_relaxed)) return;
    if (ctx_->rate > 0) publish_fixed_rate(now);
    else publish_max(now);
}

void Worker::publish_fixed_rate(int64_t now) {
    double my_rate = ctx_->rate * double(pub_specs_.size()) / double(ctx_->publishers_total);
    int64_t elapsed = now - ctx_->pub_start_ns.load(std::memory_order_relaxed);
    uint64_t target = uint64_t(double(elapsed) * my_rate / 1e9);
    if (target <= rate_slots_used_) return;
    uint64_t due = target - rate_slots_used_;
    uint64_t max_backlog = uint64_t(std::max(1.0, my_rate * 0.1));  // 100 ms worth
    if (due > max_backlog) {
        bump(live_.publish_skipped, due - max_backlog);
        rate_slots_used_ += due - max_backlog;
        due = max_backlog;
    }
    rate_slots_used_ += uint64_t(publish_some(int(std::min<uint64_t>(due, 1 << 20))));
}

void Worker::publish_max(int64_t now) {
    int64_t delivered = int64_t(ctx_->total_deliveries());
    int64_t outstanding = int64_t(ctx_->total_expected()) - delivered -
                          ctx_->written_off.load(std::memory_order_relaxed);
    if (id_ == 0) {  // one thread watches for a stall (lost messages would block us forever)
        if (uint64_t(delivered) != seen_deliveries_) {
            seen_deliveries_ = uint64_t(delivered);
            last_progress_ns_ = now;
        } else if (outstanding > 0 && now - last_progress_ns_ > kStallNs) {
            ctx_->written_off.fetch_add(outstanding);
            res_.note_error("max rate: no delivery for 1 s, stopped waiting for " +
                            std::to_string(outstanding) + " deliveries");
            last_progress_ns_ = now;
            outstanding = 0;
        }
    }
    int64_t room = ctx_->max_outstanding - outstanding;
    if (room <= 0) return;
    int64_t per_msg = std::max<int64_t>(1, ctx_->opt.clients / int64_t(ctx_->channel_names.size()));
    int64_t msgs = (room + per_msg - 1) / per_msg;
    publish_some(int(std::min<int64_t>(msgs, 1 << 20)));
}

int Worker::publish_some(int n) {
    int sent = 0;
    size_t idle_rounds = 0;
    while (sent < n && idle_rounds < pubs_.size()) {
        Publisher* p = pubs_[pub_cursor_++ % pubs_.size()].get();
        int cap = p->capacity();
        if (cap <= 0) {
            idle_rounds++;
            continue;
        }
        // spread over publishers: at most a fair share per turn
        int share = std::max(1, (n - sent + int(pubs_.size()) - 1) / int(pubs_.size()));
        int k = p->publish(std::min({cap, n - sent, share}));
        sent += k;
        idle_rounds = k > 0 ? 0 : idle_rounds + 1;
    }
    return sent;
}

// ---- SessionSink ------------------------------------------------------------------

void Worker::on_connected(Session&) { bump(live_.connected); }

void Worker::on_joined(Session& s) {
    pending_--;
    bump(live_.joined);
    ctx_->joined_per_channel[size_t(s.channel())].fetch_add(1, std::memory_order_relaxed);
    int64_t now = mono_ns();
    res_.join_ns.record(now - s.started_at());
    res_.last_join_ns = now;
}

void Worker::on_join_failed(Session&, const std::string& reason) {
    pending_--;
    bump(live_.join_errors);
    bump(live_.failed);
    res_.note_error(reason);
}

void Worker::on_subscribed(Session&) { bump(live_.subscribed); }

void Worker::on_delivery(Session&, int64_t ts) {
    int64_t now = mono_ns();
    bump(live_.deliveries);
    if (ts >= win_start_ && ts < win_end_) {
        bump(live_.deliveries_window);
        res_.latency_ns.record(now - ts);
    }
    if (now >= win_start_ && now < win_end_) bump(live_.received_in_window);
}

void Worker::on_pg_change(Session& s, std::string_view payload) {
    PgChange ch;
    if (!parse_pg_change(payload, ctx_->opt.ts_field, ctx_->opt.id_field, &ch)) {
        on_undecodable(s, "postgres_changes without data");
        return;
    }
    int64_t now_us = real_us();
    bump(live_.pg_records);
    if (!res_.pg_first_us) res_.pg_first_us = now_us;
    res_.pg_last_us = now_us;
    s.records++;
    res_.pg_types[ch.type.empty() ? "?" : ch.type]++;
    if (ch.has_ts) {
        if (mono_ns() >= win_start_) {
            res_.latency_ns.record((now_us - ch.ts_us) * 1000);
            bump(live_.pg_records_window);
        }
    } else {
        res_.pg_without_ts++;
    }
    if (ctx_->opt.print_ids && ch.has_id) s.ids.push_back(ch.id);
    if (ctx_->opt.expect > 0 && s.records == uint64_t(ctx_->opt.expect)) bump(live_.clients_done);
}

void Worker::on_heartbeat_reply(Session&) { bump(live_.heartbeat_replies); }

void Worker::on_undecodable(Session&, std::string_view what) {
    bump(live_.undecodable);
    res_.note_error(std::string(what));
}

void Worker::on_ended(Session& s, WsEnd why, const std::string& detail) {
    if (s.state() == Session::State::kJoined) {
        bump(live_.disconnects);
        ctx_->joined_per_channel[size_t(s.channel())].fetch_sub(1, std::memory_order_relaxed);
        res_.note_error(std::string("disconnected: ") + ws_end_name(why) + " " + detail);
        return;
    }
    pending_--;
    bump(live_.failed);
    switch (why) {
        case WsEnd::kConnectFailed: bump(live_.connect_errors); break;
        case WsEnd::kTimeout: bump(live_.timeouts); break;
        default:
            if (s.ws_opened()) bump(live_.join_errors);
            else bump(live_.handshake_errors);
    }
    res_.note_error(std::string(ws_end_name(why)) + ": " + detail);
}

// ---- PublishSink ------------------------------------------------------------------

void Worker::on_published(int channel, int64_t ts) {
    uint64_t j = uint64_t(std::max(0, ctx_->joined_per_channel[size_t(channel)].load(std::memory_order_relaxed)));
    bump(live_.published);
    bump(live_.expected, j);
    if (ts >= win_start_ && ts < win_end_) {
        bump(live_.published_window);
        bump(live_.expected_window, j);
    }
}

void Worker::on_publish_failed(int channel, int64_t ts, const std::string& why) {
    uint64_t j = uint64_t(std::max(0, ctx_->joined_per_channel[size_t(channel)].load(std::memory_order_relaxed)));
    bump(live_.publish_errors);
    res_.note_error(why);
    auto sub = [](std::atomic<uint64_t>& a, uint64_t n) {
        uint64_t v = a.load(std::memory_order_relaxed);
        a.store(v >= n ? v - n : 0, std::memory_order_relaxed);
    };
    sub(live_.expected, j);
    if (ts >= win_start_ && ts < win_end_) sub(live_.expected_window, j);
}

void Worker::on_publisher_error(const std::string& why) { res_.note_error(why); }

}  // namespace lg
