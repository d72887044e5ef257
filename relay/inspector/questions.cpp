// Questions to the cluster, waiting for their answers.
#include "relay/inspector/questions.h"

#include <algorithm>

namespace rt::inspector {

uint64_t Questions::ask(std::string local, std::vector<std::string> peers, int64_t now_ms, Finish finish) {
    if (pending_.size() >= kMaxPending) return 0;
    uint64_t id = ++next_id_;
    if (peers.empty()) {
        finish({std::move(local)}, {});
        return id;
    }
    Pending& p = pending_[id];
    p.answers.push_back(std::move(local));
    p.waiting = std::move(peers);
    p.deadline_ms = now_ms + kWaitMs;
    p.finish = std::move(finish);
    return id;
}

void Questions::answered(const std::string& node, uint64_t id, std::string json) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // late: already finished without it
    Pending& p = it->second;
    auto w = std::find(p.waiting.begin(), p.waiting.end(), node);
    if (w == p.waiting.end()) return;  // not asked, or answered twice
    p.waiting.erase(w);
    p.answers.push_back(std::move(json));
    if (!p.waiting.empty()) return;
    Pending done = std::move(p);
    pending_.erase(it);
    done.finish(done.answers, {});
}

void Questions::expire(int64_t now_ms) {
    std::vector<Pending> overdue;
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline_ms > now_ms) {
            ++it;
            continue;
        }
        overdue.push_back(std::move(it->second));
        it = pending_.erase(it);
    }
    for (Pending& p : overdue) p.finish(p.answers, p.waiting);
}

}  // namespace rt::inspector
