// Reading a node's metrics, and rates and latency quantiles between two readings.
#include "relay/core/node_stats.h"

namespace rt {

NodeReading read_node(const Metrics& m, int64_t now_ms) {
    auto get = [](const auto& v) { return v.load(std::memory_order_relaxed); };
    NodeReading r;
    r.at_ms = now_ms;
    r.connections = get(m.connections);
    r.channels = get(m.channels);
    r.presence_entries = get(m.presence_entries);
    r.subscriptions = get(m.subscriptions);
    r.slot_lag_bytes = get(m.slot_lag_bytes);
    r.slot_lag_ms = get(m.slot_lag_ms);
    r.messages_in = get(m.messages_in);
    r.messages_out = get(m.messages_out);
    r.deliveries = get(m.broadcast_deliveries) + get(m.changes_delivered);
    r.broadcasts = get(m.broadcasts);
    r.changes = get(m.changes_received);
    r.bytes_in = get(m.bytes_in);
    r.bytes_out = get(m.bytes_out);
    r.change_gaps = get(m.change_gaps);
    r.mesh_dropped = get(m.mesh_dropped);
    auto counts = m.decode_to_send.counts();
    r.latency.assign(counts.begin(), counts.end());
    return r;
}

double quantile_ms(const std::vector<uint64_t>& before, const std::vector<uint64_t>& now, double q) {
    const auto& bounds = LatencyHistogram::kBoundsMs;
    if (now.size() != bounds.size() + 1) return -1;
    std::vector<uint64_t> delta(now.size());
    uint64_t total = 0;
    for (size_t i = 0; i < now.size(); ++i) {
        uint64_t b = i < before.size() ? before[i] : 0;
        delta[i] = now[i] >= b ? now[i] - b : 0;
        total += delta[i];
    }
    if (total == 0) return -1;
    double rank = q * static_cast<double>(total);
    uint64_t below = 0;
    for (size_t i = 0; i < delta.size(); ++i) {
        if (delta[i] == 0 || static_cast<double>(below + delta[i]) < rank) {
            below += delta[i];
            continue;
        }
        // The last bucket has no upper bound: its observations are reported at its floor.
        if (i == bounds.size()) return bounds.back();
        double lo = i == 0 ? 0 : bounds[i - 1];
        double within = (rank - static_cast<double>(below)) / static_cast<double>(delta[i]);
        return lo + (bounds[i] - lo) * (within < 0 ? 0 : within);
    }
    return bounds.back();
}

NodeRates rates_between(const NodeReading& before, const NodeReading& now) {
    NodeRates r;
    double secs = static_cast<double>(now.at_ms - before.at_ms) / 1000.0;
    if (secs <= 0 || now.messages_in < before.messages_in || now.messages_out < before.messages_out) return r;
    auto per_s = [secs](uint64_t a, uint64_t b) { return b >= a ? static_cast<double>(b - a) / secs : 0.0; };
    r.messages_in = per_s(before.messages_in, now.messages_in);
    r.messages_out = per_s(before.messages_out, now.messages_out);
    r.deliveries = per_s(before.deliveries, now.deliveries);
    r.broadcasts = per_s(before.broadcasts, now.broadcasts);
    r.changes = per_s(before.changes, now.changes);
    r.bytes_in = per_s(before.bytes_in, now.bytes_in);
    r.bytes_out = per_s(before.bytes_out, now.bytes_out);
    r.latency_p50_ms = quantile_ms(before.latency, now.latency, 0.50);
    r.latency_p99_ms = quantile_ms(before.latency, now.latency, 0.99);
    return r;
}

}  // namespace rt
