// The parked state of subscriptions on its way to the database (realtime.mark_parked):
// the loop says which ids it parked (when) and which it no longer parks; the database
// pool writes them in batches, one job at a time, each batch whatever accumulated while
// the previous one was written. So a storm of 5 000 closes is a few statements, and an
// id's last word wins (parked then adopted before the write: cleared). Pure; the caller
// (io/subscription_db) holds a lock around it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace rt {

class ParkMarks {
public:
    struct Batch {
        std::vector<int64_t> parked;
        std::vector<double> parked_at;  // epoch seconds, one per parked id
        std::vector<int64_t> cleared;
        bool empty() const { return parked.empty() && cleared.empty(); }
    };

    // at_ms: when id was parked (wall clock); 0: it is no longer parked (its client is back).
    void mark(int64_t id, int64_t at_ms) { pending_[id] = at_ms; }
    // True when the caller must start a write job: something is pending and none runs.
    bool start();
    // The job's batch: at most max ids of what is pending (the rest stays for the next).
    Batch take(size_t max);
    // The job wrote its batch: true when it must go on with another (start() again).
    bool finish();
    size_t pending() const { return pending_.size(); }

private:
    std::unordered_map<int64_t, int64_t> pending_;  // id -> parked at (ms; 0: cleared)
    bool running_ = false;
};

}  // namespace rt
