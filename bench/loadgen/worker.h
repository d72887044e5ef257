// Owns: one load-generator thread: its event loop, its share of subscriber sessions
// and publishers, and the pacing done on that thread: how fast connections start
// (--max-pending, --connect-rate), handshake deadlines, heartbeats spread evenly over
// the interval, and publishing at a fixed rate or, with --rate 0, as fast as the
// deliveries in flight allow (--max-outstanding). It counts everything it sees into its
// LiveCounters and ThreadResults.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "bench/loadgen/event_loop.h"
#include "bench/loadgen/publisher.h"
#include "bench/loadgen/run_context.h"
#include "bench/loadgen/session.h"
#include "bench/loadgen/stats.h"

namespace lg {

class Worker final : public SessionSink, public PublishSink {
public:
    Worker(int id, RunContext* ctx, int total_workers);
    ~Worker() override;

    void add_client(int index, int channel);
    void add_publisher(int index, std::vector<int> channels);
    void start();
    void wake() { loop_.wake(); }
    void join();  // after ctx->stop is set
    ThreadResults& results() { return res_; }

    // SessionSink
    void on_connected(Session& s) override;
    void on_joined(Session& s) override;
    void on_join_failed(Session& s, const std::string& reason) override;
    void on_subscribed(Session& s) override;
    void on_delivery(Session& s, int64_t send_ts_ns) override;
    void on_pg_change(Session& s, std::string_view payload) override;
    void on_heartbeat_reply(Session& s) override;
    void on_undecodable(Session& s, std::string_view what) override;
    void on_ended(Session& s, WsEnd why, const std::string& detail) override;

    // PublishSink
    void on_published(int channel, int64_t ts_ns) override;
    void on_publish_failed(int channel, int64_t ts_ns, const std::string& why) override;
    void on_publisher_error(const std::string& why) override;

private:
    void run();
    void pump_connects(int64_t now);
    void pump_publish(int64_t now);
    void publish_fixed_rate(int64_t now);
    void publish_max(int64_t now);
    int publish_some(int n);
    void housekeeping(int64_t now);
    void expire_pending(int64_t now);
    void send_heartbeats(int64_t now);
    void finish();

    int id_;
    RunContext* ctx_;
    int total_workers_;
    EventLoop loop_;
    LiveCounters& live_;
    ThreadResults res_;
    std::thread thread_;

    std::vector<std::unique_ptr<Session>> sessions_;
    size_t next_connect_ = 0;
    int pending_ = 0;
    std::deque<Session*> pending_q_;
    double connect_credit_ = 0;
    int64_t last_connect_ns_ = 0;

    size_t hb_cursor_ = 0;
    double hb_credit_ = 0;
    int64_t last_hb_ns_ = 0;
    int64_t next_housekeeping_ = 0;

    std::vector<std::unique_ptr<Publisher>> pubs_;
    std::vector<std::pair<int, std::vector<int>>> pub_specs_;
    size_t pub_cursor_ = 0;
    uint64_t rate_slots_used_ = 0;  // messages sent or skipped against the fixed rate
    uint64_t seen_deliveries_ = 0;  // max mode: stall detection
    int64_t last_progress_ns_ = 0;

    int64_t win_start_ = INT64_MAX;
    int64_t win_end_ = INT64_MAX;
};

}  // namespace lg
