// Deadlines of a fixed length for many handles (pure logic): the requests that must
// arrive whole within the handshake timeout. Every deadline is start time + the same
// timeout, so they expire in the order they started: a FIFO, O(1) to start and finish
// (lws's sorted timers cost O(n) per insert, which a connection storm would pay).
// A handle may be reused after it finished (lws reuses wsi addresses): generations
// tell its deadlines apart.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

namespace rt {

template <typename Handle>
class DeadlineQueue {
public:
    explicit DeadlineQueue(int64_t timeout_ms) : timeout_ms_(timeout_ms) {}

    // h's deadline is now + timeout (replacing one it had).
    void start(Handle h, int64_t now_ms) {
        uint64_t gen = next_gen_++;
        live_[h] = gen;
        order_.push_back({now_ms + timeout_ms_, h, gen});
    }
    // h is done in time, or gone.
    void finish(Handle h) { live_.erase(h); }
    bool pending(Handle h) const { return live_.count(h) != 0; }

    // The handles whose deadline passed at now, oldest first; they are finished.
    std::vector<Handle> expired(int64_t now_ms) {
        std::vector<Handle> out;
        while (!order_.empty() && order_.front().deadline_ms <= now_ms) {
            Entry e = order_.front();
            order_.pop_front();
            auto it = live_.find(e.handle);
            if (it == live_.end() || it->second != e.gen) continue;  // finished, or restarted later
            live_.erase(it);
            out.push_back(e.handle);
        }
        return out;
    }

    size_t pending_count() const { return live_.size(); }

private:
    struct Entry {
        int64_t deadline_ms;
        Handle handle;
        uint64_t gen;
    };
    const int64_t timeout_ms_;
    uint64_t next_gen_ = 1;
    std::deque<Entry> order_;
    std::unordered_map<Handle, uint64_t> live_;
};

}  // namespace rt
