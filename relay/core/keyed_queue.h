// The database pool's queue (pure logic, no locking: the pool holds its mutex). Jobs
// carry a key, the client they run for: jobs with the same key run one at a time, in
// the order they were queued, and a worker takes the oldest job whose key is not
// running. So one client's slow or stuck statement holds at most one connection, and
// every other client's jobs go to the other connections. Key 0 is "no client": such
// jobs never wait for one another.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_set>
#include <utility>

namespace rt {

template <typename Job>
class KeyedQueue {
public:
    static constexpr uint64_t kNoKey = 0;

    void push(uint64_t key, Job job) { queue_.emplace_back(key, std::move(job)); }

    // The oldest job whose key is not running, marked running; nothing if none is ready.
    std::optional<std::pair<uint64_t, Job>> take() {
        for (auto it = queue_.begin(); it != queue_.end(); ++it) {
            if (it->first != kNoKey && running_.count(it->first)) continue;
            std::pair<uint64_t, Job> entry = std::move(*it);
            queue_.erase(it);
            if (entry.first != kNoKey) running_.insert(entry.first);
            return entry;
        }
        return std::nullopt;
    }

    // The job taken for key finished: the key's next job may run.
    void finished(uint64_t key) {
        if (key != kNoKey) running_.erase(key);
    }

    bool empty() const { return queue_.empty(); }
    size_t size() const { return queue_.size(); }
    size_t running() const { return running_.size(); }

private:
    std::deque<std::pair<uint64_t, Job>> queue_;
    std::unordered_set<uint64_t> running_;
};

}  // namespace rt
