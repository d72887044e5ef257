// Owns: the state every worker thread shares with the controller: resolved addresses
// and request targets (read-only once threads start), per-channel joined counts, the
// phase timestamps the controller sets (publishing start, measurement window) and the
// stop flag. Workers write only their own LiveCounters.
#pragma once
#include <netinet/in.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen/net_util.h"
#include "bench/loadgen/options.h"
#include "bench/loadgen/stats.h"

namespace lg {

struct RunContext {
    explicit RunContext(const Options& o) : opt(o) {}

    const Options& opt;
    bool phoenix() const { return opt.protocol == Protocol::kPhoenix; }

    // subscribers
    sockaddr_in sub_addr{};
    std::string sub_host;
    std::vector<std::string> channel_names;
    std::vector<std::string> sub_targets;   // per channel (nchan) or one (phoenix)
    std::string join_payload_sub;           // phoenix phx_join payload for subscribers
    // --url may list several servers (comma-separated): client i uses endpoint i % n.
    // Endpoint 0 is also sub_addr / sub_host / sub_targets above.
    struct SubEndpoint {
        sockaddr_in addr{};
        std::string host;
        std::vector<std::string> targets;   // per channel (nchan) or one (phoenix)
    };
    std::vector<SubEndpoint> sub_endpoints;
    // --pg-changes with "{channel}": one phx_join payload per channel, the placeholder
    // replaced by the channel's index (e.g. a filter value per channel)
    std::vector<std::string> join_payloads_sub;
    std::string token;
    SourceAddrs sources;

    // publishers
    sockaddr_in pub_addr{};
    std::string pub_host;
    std::vector<std::string> pub_targets;   // per channel (nchan) or one (phoenix http)
    std::string pub_ws_target;              // phoenix ws publishers
    sockaddr_in pub_ws_addr{};              // ... at --pub-url ws://..., else endpoint 0
    std::string pub_ws_host;
    std::string join_payload_pub;

    std::unique_ptr<std::atomic<int>[]> joined_per_channel;

    // phases, set by the controller
    std::atomic<bool> stop{false};
    std::atomic<bool> connect_go{false};
    std::atomic<bool> publishing{false};
    std::atomic<int64_t> pub_start_ns{0};
    std::atomic<int64_t> win_start_ns{INT64_MAX};
    std::atomic<int64_t> win_end_ns{INT64_MAX};
    std::atomic<int64_t> written_off{0};  // max mode: deliveries given up on

    int publishers_total = 0;      // publisher connections over all workers
    double rate = 0;               // messages/s resolved from --rate / --deliveries-rate
    int64_t max_outstanding = 0;

    std::vector<std::unique_ptr<LiveCounters>> live;  // one per worker

    int channel_of_client(int client) const { return client % int(channel_names.size()); }
    const std::string& sub_target(int channel) const {
        return sub_targets.size() == 1 ? sub_targets[0] : sub_targets[size_t(channel)];
    }
    const SubEndpoint& endpoint_of(int client) const {
        return sub_endpoints[size_t(client) % sub_endpoints.size()];
    }
    const std::string& join_payload_of(int channel) const {
        return join_payloads_sub.empty() ? join_payload_sub : join_payloads_sub[size_t(channel)];
    }
    uint64_t total_deliveries() const {
        uint64_t n = 0;
        for (auto& c : live) n += get(c->deliveries);
        return n;
    }
    uint64_t total_expected() const {
        uint64_t n = 0;
        for (auto& c : live) n += get(c->expected);
        return n;
    }
};

}  // namespace lg
