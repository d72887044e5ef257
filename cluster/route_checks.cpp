// Route checks: who still has to confirm, deadlines, and the probes to repeat.
#include "cluster/route_checks.h"

#include <algorithm>

namespace rt::cluster {

void RouteChecks::start(const std::string& topic, std::vector<std::string> peers, int64_t now_ms,
                        int64_t deadline_ms, const IsUp& is_up, Out& out) {
    Check& c = checks_[topic];
    c.token = ++next_token_;
    c.waiting = std::move(peers);
    c.deadline_ms = deadline_ms;
    c.next_probe_ms = 0;
    check(now_ms, is_up, out);
}

void RouteChecks::check(int64_t now_ms, const IsUp& is_up, Out& out) {
    for (auto it = checks_.begin(); it != checks_.end();) {
        Check& c = it->second;
        // Peers that went down meanwhile no longer hold the join back.
        c.waiting.erase(std::remove_if(c.waiting.begin(), c.waiting.end(),
                                       [&](const std::string& node) { return !is_up(node); }),
                        c.waiting.end());
        if (c.waiting.empty() || now_ms >= c.deadline_ms) {
            if (!c.waiting.empty())
                out.warnings.push_back(std::to_string(c.waiting.size()) + " peers did not confirm the route of " +
                                       it->first + " in time; answering the join anyway");
            out.ready.push_back(it->first);
            it = checks_.erase(it);
            continue;
        }
        if (now_ms >= c.next_probe_ms) {
            // Until the subscription arrives, the peer's answer is filtered out: ask again.
            c.next_probe_ms = now_ms + kProbeIntervalMs;
            for (const std::string& node : c.waiting) out.probes.emplace_back(node, RouteCheck{it->first, "", c.token});
        }
        ++it;
    }
}

void RouteChecks::confirmed(const std::string& topic, const std::string& peer, uint64_t token, Out& out) {
    auto it = checks_.find(topic);
    if (it == checks_.end() || it->second.token != token) return;
    auto& waiting = it->second.waiting;
    waiting.erase(std::remove(waiting.begin(), waiting.end(), peer), waiting.end());
    if (waiting.empty()) {
        checks_.erase(it);
        out.ready.push_back(topic);
    }
}

}  // namespace rt::cluster
