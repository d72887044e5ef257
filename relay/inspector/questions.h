// The questions this node's inspector put to the cluster (hub/inspect answers them on
// each node): each waits for the peers that were up when it was asked, or for its
// deadline, then is finished with the answers it has (this node's first) and the names
// of the nodes that did not answer. Pure logic; the clock is the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace rt::inspector {

class Questions {
public:
    static constexpr size_t kMaxPending = 64;
    static constexpr int64_t kWaitMs = 1000;  // what a question waits for its answers, at most

    using Finish = std::function<void(const std::vector<std::string>& answers, const std::vector<std::string>& missing)>;

    // A question answered here with local and asked of peers. Returns its id, to send
    // with it; when there is nobody to wait for it is finished at once. 0: too many wait
    // already (finish is not called).
    uint64_t ask(std::string local, std::vector<std::string> peers, int64_t now_ms, Finish finish);
    // A peer's answer; the question finishes when it was the last one waited for.
    void answered(const std::string& node, uint64_t id, std::string json);
    // Questions past their deadline are finished with what they have.
    void expire(int64_t now_ms);
    size_t pending() const { return pending_.size(); }

private:
    struct Pending {
        std::vector<std::string> answers;
        std::vector<std::string> waiting;  // peers not heard from yet
        int64_t deadline_ms = 0;
        Finish finish;
    };
    std::unordered_map<uint64_t, Pending> pending_;
    uint64_t next_id_ = 0;
};

}  // namespace rt::inspector
