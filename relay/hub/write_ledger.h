// What the sockets took of the changes the loop processed, and whom to tell (issue 15:
// the cross-node seam). Each change the loop processes gets a number, in processing
// order; each of its frames waiting in a connection's queue counts against it until the
// socket takes the frame (SendQueue::written) or the connection closes (its members
// parked, their unwritten changes kept by hub/resume, or gone). A change is written once
// it and every change before it has no frame waiting. The senders' progress reports
// (SlotProgress: the slot holder's hand-over through the mesh, or this node's own slot
// stream) wait for that: a node confirms what its clients' sockets took, not what its
// loop processed, so when it dies what still waited for a slow client, or was queued in
// its last turn, is in the holder's backlog instead of lost, and the doubles at the seam
// are only what was written between a confirmation and the death.
//
// Pure logic: the hub numbers, counts and asks; the clock is the caller's.
#pragma once

#include <cstdint>
#include <deque>

#include "relay/hub/inbound.h"

namespace rt {

class WriteLedger {
public:
    // A change processed at now_ms: its number (1, 2, ...).
    uint64_t begin(int64_t now_ms);
    uint64_t last() const { return base_ + waiting_.size() - 1; }
    void queued(uint64_t n);  // one more frame of change n waits in a queue
    void taken(uint64_t n);   // one frame of change n was written, or dropped with its connection
    // to is told processed(commit_lsn, ...) once every change up to last() is written.
    void report(SlotProgress& to, uint64_t commit_lsn) { reports_.push_back({last(), &to, commit_lsn}); }
    // Tells, in order, every report whose changes are written (with held_floor, the
    // lowest commit LSN the loop still keeps); returns how many.
    size_t confirm(uint64_t held_floor);
    // When change n was processed (0: it and every one before it are written).
    int64_t began_ms(uint64_t n) const;

private:
    struct Change {
        int64_t at_ms = 0;
        uint32_t frames = 0;  // waiting in queues
    };
    struct Report {
        uint64_t through = 0;
        SlotProgress* to = nullptr;
        uint64_t commit_lsn = 0;
    };
    uint64_t written_through();

    std::deque<Change> waiting_;  // numbers base_, base_ + 1, ...; the front one has frames waiting
    uint64_t base_ = 1;
    std::deque<Report> reports_;
};

}  // namespace rt
