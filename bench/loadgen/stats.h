// Owns: what worker threads count. LiveCounters are written by one worker thread and
// read by the controller while the run goes on (relaxed atomics, one cache line group
// per thread). ThreadResults (histograms, error samples, received ids) are only read
// after the worker has stopped; merge() adds them up.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/loadgen/histogram.h"

namespace lg {

struct alignas(64) LiveCounters {
    std::atomic<uint64_t> started{0};           // connect() attempted
    std::atomic<uint64_t> connected{0};         // WebSocket handshake done
    std::atomic<uint64_t> joined{0};            // joined (nchan: handshake done)
    std::atomic<uint64_t> subscribed{0};        // latency-watch: "Subscribed to PostgreSQL"
    std::atomic<uint64_t> connect_errors{0};    // TCP connect failed
    std::atomic<uint64_t> handshake_errors{0};  // non-101 or bad upgrade
    std::atomic<uint64_t> join_errors{0};       // phx_reply error / phx_error / system error
    std::atomic<uint64_t> timeouts{0};          // not joined within --connect-timeout
    std::atomic<uint64_t> disconnects{0};       // closed after having joined
    std::atomic<uint64_t> failed{0};            // gave up before joining (any reason)

    std::atomic<uint64_t> deliveries{0};        // every timestamped message received
    std::atomic<uint64_t> deliveries_window{0}; // ... sent inside the window
    std::atomic<uint64_t> received_in_window{0};// ... received inside the window
    std::atomic<uint64_t> undecodable{0};       // messages we could not classify

    std::atomic<uint64_t> published{0};
    std::atomic<uint64_t> published_window{0};
    std::atomic<uint64_t> expected{0};          // deliveries expected from all publishes
    std::atomic<uint64_t> expected_window{0};
    std::atomic<uint64_t> publish_errors{0};    // non-2xx, error replies, lost requests
    std::atomic<uint64_t> publish_skipped{0};   // fixed rate not kept (publisher behind)

    std::atomic<uint64_t> heartbeats_sent{0};
    std::atomic<uint64_t> heartbeat_replies{0};
    std::atomic<uint64_t> pg_records{0};        // latency-watch: postgres_changes received
    std::atomic<uint64_t> pg_records_window{0};
    std::atomic<uint64_t> clients_done{0};      // latency-watch: clients that got --expect
    std::atomic<uint64_t> publishers_ready{0};  // gauge: publishers connected and joined
};

inline void bump(std::atomic<uint64_t>& a, uint64_t n = 1) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline uint64_t get(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

// Snapshot of LiveCounters, summed over threads.
struct Totals {
    uint64_t started = 0, connected = 0, joined = 0, subscribed = 0, connect_errors = 0,
             handshake_errors = 0, join_errors = 0, timeouts = 0, disconnects = 0, failed = 0,
             deliveries = 0, deliveries_window = 0, received_in_window = 0, undecodable = 0,
             published = 0, published_window = 0, expected = 0, expected_window = 0,
             publish_errors = 0, publish_skipped = 0, heartbeats_sent = 0, heartbeat_replies = 0,
             pg_records = 0, pg_records_window = 0, clients_done = 0, publishers_ready = 0;
    void add(const LiveCounters& c);
};

struct ThreadResults {
    Histogram latency_ns;        // publish-to-receive (fanout) or record-to-receive (watch)
    Histogram join_ns;           // connect() to joined, per connection
    std::map<std::string, uint64_t> errors;  // distinct error texts (capped) and counts
    std::map<std::string, uint64_t> pg_types;  // latency-watch: INSERT/UPDATE/DELETE counts
    uint64_t pg_without_ts = 0;  // latency-watch: records lacking --ts-field
    int64_t last_join_ns = 0;    // CLOCK_MONOTONIC of the last successful join
    int64_t pg_first_us = 0;     // latency-watch: CLOCK_REALTIME of the first record received
    int64_t pg_last_us = 0;      // ... and of the last
    std::vector<std::pair<int, std::vector<std::string>>> ids;  // client index, ids

    void note_error(const std::string& what);
    void merge(const ThreadResults& o);
};

}  // namespace lg
