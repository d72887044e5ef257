// One node's counters as read at an instant (a NodeReading), what the inspector knows of
// each node of the cluster (a NodeView), and the rates between two readings. The loop
// reads its own node once a second; heartbeats carry each node's reading to its peers,
// so any node shows the whole cluster without asking anybody. Pure logic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "relay/core/metrics.h"

namespace rt {

struct NodeReading {
    int64_t at_ms = 0;  // the reading node's monotonic clock (rates divide by its differences)
    // gauges
    int64_t connections = 0;
    int64_t channels = 0;
    int64_t presence_entries = 0;
    int64_t subscriptions = 0;
    int64_t slot_lag_bytes = 0;
    int64_t slot_lag_ms = 0;
    // counters
    uint64_t messages_in = 0;
    uint64_t messages_out = 0;
    uint64_t deliveries = 0;  // broadcast and postgres_changes frames queued to members
    uint64_t broadcasts = 0;
    uint64_t changes = 0;     // change documents received
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t change_gaps = 0;
    uint64_t mesh_dropped = 0;
    std::vector<uint64_t> latency;  // decode_to_send's bucket counts (LatencyHistogram::counts)
};

// What one node's numbers are now, against an earlier reading of the same node.
struct NodeRates {
    double messages_in = 0;  // per second
    double messages_out = 0;
    double deliveries = 0;
    double broadcasts = 0;
    double changes = 0;
    double bytes_in = 0;
    double bytes_out = 0;
    double latency_p50_ms = -1;  // decode to send; -1: nothing was delivered in between
    double latency_p99_ms = -1;
};

// A node as the inspector lists it: this one, or a peer as the mesh knows it.
struct NodeView {
    std::string node;
    bool self = false;
    bool up = false;
    std::string region;
    std::string endpoint;
    uint64_t incarnation = 0;  // random at each start; 0 without a cluster
    bool slot_holder = false;
    int64_t heard_ms_ago = 0;  // since its last message (0 for this node)
    NodeReading reading;       // its last reading (a peer's, from its last heartbeat)
};

NodeReading read_node(const Metrics& m, int64_t now_ms);
// Rates over the time between the readings; all zero (latency -1) when no time passed
// or the node restarted (counters went back).
NodeRates rates_between(const NodeReading& before, const NodeReading& now);
// The q-quantile (0..1) of the observations between two readings of a histogram's
// counts, interpolated within its bucket (LatencyHistogram::kBoundsMs); -1 if none.
double quantile_ms(const std::vector<uint64_t>& before, const std::vector<uint64_t>& now, double q);

}  // namespace rt
