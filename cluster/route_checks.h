// Route checks (see RouteCheck in wire.h): a node that starts listening to a channel
// asks every peer that is up to answer on the channel's own topic, and the joins that
// wait for the channel are answered once all did, or at a deadline (peers that do not
// answer, or went down meanwhile, do not hold a join back). Until a peer's subscription
// arrives its answer is filtered out, so probes are repeated. Pure logic: the mesh
// thread feeds it the clock and the answers, and sends the probes it returns.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cluster/wire.h"

namespace rt::cluster {

class RouteChecks {
public:
    static constexpr int64_t kProbeIntervalMs = 20;

    struct Out {
        std::vector<std::string> ready;                            // topics routed here now
        std::vector<std::pair<std::string, RouteCheck>> probes;    // node -> probe to send it
        std::vector<std::string> warnings;                         // lines worth a log
    };
    using IsUp = std::function<bool(const std::string& node)>;

    // topic gained its first member here: peers (those up) must confirm by deadline_ms.
    void start(const std::string& topic, std::vector<std::string> peers, int64_t now_ms, int64_t deadline_ms,
               const IsUp& is_up, Out& out);
    // Peers that went down stop counting; due checks finish, due probes go out.
    void check(int64_t now_ms, const IsUp& is_up, Out& out);
    // peer answered the check of topic with token.
    void confirmed(const std::string& topic, const std::string& peer, uint64_t token, Out& out);
    void cancel(const std::string& topic) { checks_.erase(topic); }  // nobody listens any more
    bool empty() const { return checks_.empty(); }

private:
    struct Check {
        uint64_t token = 0;
        std::vector<std::string> waiting;  // peers whose RouteAck has not arrived
        int64_t deadline_ms = 0;
        int64_t next_probe_ms = 0;
    };
    std::unordered_map<std::string, Check> checks_;  // topic -> check in progress
    uint64_t next_token_ = 0;
};

}  // namespace rt::cluster
