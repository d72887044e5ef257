// The batching of parked states (see park_marks.h).
#include "relay/core/park_marks.h"

namespace rt {

bool ParkMarks::start() {
    if (running_ || pending_.empty()) return false;
    running_ = true;
    return true;
}

ParkMarks::Batch ParkMarks::take(size_t max) {
    Batch b;
    for (auto it = pending_.begin(); it != pending_.end() && b.parked.size() + b.cleared.size() < max;) {
        if (it->second) {
            b.parked.push_back(it->first);
            b.parked_at.push_back(static_cast<double>(it->second) / 1000.0);
        } else {
            b.cleared.push_back(it->first);
        }
        it = pending_.erase(it);
    }
    return b;
}

bool ParkMarks::finish() {
    running_ = false;
    return start();
}

}  // namespace rt
