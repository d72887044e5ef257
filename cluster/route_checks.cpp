// Route checks: who still has to confirm, deadlines, and the probes to repeat.
#include "cluster/route_checks.h"

#include <algorithm>

namespace rt::cluster {

void RouteChecks::start(const std::string& topic, std::vector<std::string> peers, int64_t now_ms,
                        int64_t deadline_ms, const Resolve& resolve, Out& out) {
    Check& c = checks_[topic];
    c.token = ++next_token_;
    c.waiting = std::move(peers);
    c.deadline_ms = deadline_ms;
    c.next_probe_ms = 0;
    check(now_ms, resolve, out);
}

void RouteChecks::expect(const std::vector<std::string>& names) {
    for (auto& [topic, c] : checks_)
        for (const std::string& name : names)
            if (std::find(c.waiting.begin(), c.waiting.end(), name) == c.waiting.end()) c.waiting.push_back(name);
}

// Peers that went down meanwhile no longer hold the join back; expected ones heard by now
// are waited for by their node id.
std::vector<std::string> RouteChecks::resolved(const std::vector<std::string>& waiting, const Resolve& resolve) {
    std::vector<std::string> now;
    for (const std::string& name : waiting) {
        std::string r = resolve(name);
        if (!r.empty() && std::find(now.begin(), now.end(), r) == now.end()) now.push_back(std::move(r));
    }
    return now;
}

void RouteChecks::check(int64_t now_ms, const Resolve& resolve, Out& out) {
    for (auto it = checks_.begin(); it != checks_.end();) {
        Check& c = it->second;
        c.waiting = resolved(c.waiting, resolve);
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
            for (const std::string& node : c.waiting)
                if (!is_placeholder(node)) out.probes.emplace_back(node, RouteCheck{it->first, "", c.token});
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
