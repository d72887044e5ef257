// Owns: summing counters and merging per-thread results (see stats.h).
#include "bench/loadgen/stats.h"

namespace lg {

void Totals::add(const LiveCounters& c) {
    started += get(c.started);
    connected += get(c.connected);
    joined += get(c.joined);
    subscribed += get(c.subscribed);
    connect_errors += get(c.connect_errors);
    handshake_errors += get(c.handshake_errors);
    join_errors += get(c.join_errors);
    timeouts += get(c.timeouts);
    disconnects += get(c.disconnects);
    failed += get(c.failed);
    deliveries += get(c.deliveries);
    deliveries_window += get(c.deliveries_window);
    received_in_window += get(c.received_in_window);
    undecodable += get(c.undecodable);
    published += get(c.published);
    published_window += get(c.published_window);
    expected += get(c.expected);
    expected_window += get(c.expected_window);
    publish_errors += get(c.publish_errors);
    publish_skipped += get(c.publish_skipped);
    heartbeats_sent += get(c.heartbeats_sent);
    heartbeat_replies += get(c.heartbeat_replies);
    pg_records += get(c.pg_records);
    pg_records_window += get(c.pg_records_window);
    clients_done += get(c.clients_done);
    publishers_ready += get(c.publishers_ready);
}

void ThreadResults::note_error(const std::string& what) {
    constexpr size_t kMaxDistinct = 32;
    // error texts may quote server bytes: keep printable ASCII so the JSON stays UTF-8
    std::string key = what.size() > 240 ? what.substr(0, 240) : what;
    for (char& c : key)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) c = '?';
    auto it = errors.find(key);
    if (it != errors.end()) it->second++;
    else if (errors.size() < kMaxDistinct) errors.emplace(key, 1);
    else errors["(other errors)"]++;
}

void ThreadResults::merge(const ThreadResults& o) {
    latency_ns.merge(o.latency_ns);
    join_ns.merge(o.join_ns);
    for (auto& [k, v] : o.errors) errors[k] += v;
    for (auto& [k, v] : o.pg_types) pg_types[k] += v;
    pg_without_ts += o.pg_without_ts;
    if (o.last_join_ns > last_join_ns) last_join_ns = o.last_join_ns;
    if (o.pg_first_us && (!pg_first_us || o.pg_first_us < pg_first_us)) pg_first_us = o.pg_first_us;
    if (o.pg_last_us > pg_last_us) pg_last_us = o.pg_last_us;
    ids.insert(ids.end(), o.ids.begin(), o.ids.end());
}

}  // namespace lg
