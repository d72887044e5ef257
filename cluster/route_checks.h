// Route checks (see RouteCheck in wire.h): a node that starts listening to a channel
// asks every peer that is up to answer on the channel's own topic, and the joins that
// wait for the channel are answered once all did, or at a deadline (peers that do not
// answer, or went down meanwhile, do not hold a join back). Until a peer's subscription
// arrives its answer is filtered out, so probes are repeated.
//
// A node that just started does not know every peer yet: the mesh also makes a check
// wait for names that stand for peers it expects but has not heard ("@<endpoint>": a
// peer listed, or live in the registry, not heard at that endpoint yet; "@registry":
// until the registry said who is live). Resolve() says what a name stands for now: the
// peer's node id once it is heard (then it is probed), the name itself while it is still
// expected, "" once it no longer holds the join back. Pure logic: the mesh thread feeds it
// the clock and the answers, and sends the probes it returns.
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
    // A waiting name now: the node id to wait for (and probe), a placeholder ('@...')
    // still expected, or "" when it no longer holds the join back.
    using Resolve = std::function<std::string(const std::string& name)>;

    // topic gained its first member here: the peers named must confirm by deadline_ms.
    void start(const std::string& topic, std::vector<std::string> peers, int64_t now_ms, int64_t deadline_ms,
               const Resolve& resolve, Out& out);
    // Names resolved again (peers heard, gone, no longer expected); due checks finish,
    // due probes go out.
    void check(int64_t now_ms, const Resolve& resolve, Out& out);
    // Every check in progress also waits for these names (peers learned meanwhile).
    void expect(const std::vector<std::string>& names);
    // peer answered the check of topic with token.
    void confirmed(const std::string& topic, const std::string& peer, uint64_t token, Out& out);
    void cancel(const std::string& topic) { checks_.erase(topic); }  // nobody listens any more
    bool empty() const { return checks_.empty(); }
    static bool is_placeholder(const std::string& name) { return !name.empty() && name[0] == '@'; }

private:
    struct Check {
        uint64_t token = 0;
        std::vector<std::string> waiting;  // peers whose RouteAck has not arrived
        int64_t deadline_ms = 0;
        int64_t next_probe_ms = 0;
    };
    static std::vector<std::string> resolved(const std::vector<std::string>& waiting, const Resolve& resolve);

    std::unordered_map<std::string, Check> checks_;  // topic -> check in progress
    uint64_t next_token_ = 0;
};

}  // namespace rt::cluster
