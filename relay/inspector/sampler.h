// The inspector's live rates: once a second, every node's reading (this node's own,
// peers' from their heartbeats) becomes one sample of rates and gauges, kept for five
// minutes and written as JSON once, when it is taken. The feed hands out the samples
// after the one a page has; nothing is computed per request. Pure logic.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "relay/core/node_stats.h"

namespace rt::inspector {

class Sampler {
public:
    static constexpr size_t kKept = 300;

    // Takes a sample of nodes (the nodes that are down are left out) at wall_ms.
    // {"seq","t","nodes":[{"node","connections","channels","presence","subscriptions",
    //   "in","out","deliveries","broadcasts","changes","bytes_in","bytes_out",
    //   "p50_ms","p99_ms","slot_lag_bytes","slot_lag_ms"}]}   rates per second
    void add(const std::vector<NodeView>& nodes, int64_t wall_ms);
    uint64_t last_seq() const { return seq_; }
    // {"seq":<last>,"samples":[...]}: those after seq, oldest first (all kept when seq
    // is 0 or older than the oldest kept).
    std::string json_after(uint64_t seq) const;
    // The last sample's JSON ("null" before the first).
    std::string last() const { return samples_.empty() ? "null" : samples_.back().json; }

private:
    struct Kept {
        uint64_t seq;
        std::string json;
    };
    struct Previous {
        uint64_t incarnation = 0;
        NodeReading reading;
        NodeRates rates;
    };
    NodeRates rates_of(const NodeView& v);

    std::deque<Kept> samples_;
    std::unordered_map<std::string, Previous> previous_;  // by node
    uint64_t seq_ = 0;
};

}  // namespace rt::inspector
