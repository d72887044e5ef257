// The changes processed, numbered, their frames still waiting in queues, and the progress
// reports that wait for them.
#include "relay/hub/write_ledger.h"

namespace rt {

uint64_t WriteLedger::begin(int64_t now_ms) {
    waiting_.push_back({now_ms, 0});
    return last();
}

void WriteLedger::queued(uint64_t n) {
    if (n >= base_ && n - base_ < waiting_.size()) ++waiting_[n - base_].frames;
}

void WriteLedger::taken(uint64_t n) {
    if (n < base_ || n - base_ >= waiting_.size()) return;
    Change& c = waiting_[n - base_];
    if (c.frames) --c.frames;
}

uint64_t WriteLedger::written_through() {
    while (!waiting_.empty() && waiting_.front().frames == 0) {
        waiting_.pop_front();
        ++base_;
    }
    return base_ - 1;
}

size_t WriteLedger::confirm(uint64_t held_floor) {
    if (reports_.empty()) return 0;
    const uint64_t through = written_through();
    size_t told = 0;
    while (!reports_.empty() && reports_.front().through <= through) {
        reports_.front().to->processed(reports_.front().commit_lsn, held_floor);
        reports_.pop_front();
        ++told;
    }
    return told;
}

int64_t WriteLedger::began_ms(uint64_t n) const {
    return n >= base_ && n - base_ < waiting_.size() ? waiting_[n - base_].at_ms : 0;
}

}  // namespace rt
