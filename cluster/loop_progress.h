// The loop's confirmations of the slot holder's changes, as the mesh thread sees them: how
// many of the changes it handed to the loop were written by the clients' sockets (the
// loop reports each, in order, hub/write_ledger), and a wake-up, so the mesh thread tells
// the holder as soon as that advances rather than at its next poll. One wake-up is
// pending at most (the loop writes the eventfd only when the mesh thread has read the last
// one), so a burst of reports in one loop turn costs one write and one confirmation.
#pragma once

#include <atomic>
#include <cstdint>

#include "relay/hub/inbound.h"

namespace rt::cluster {

class LoopProgress : public SlotProgress {
public:
    LoopProgress();
    ~LoopProgress();
    LoopProgress(const LoopProgress&) = delete;
    LoopProgress& operator=(const LoopProgress&) = delete;

    void processed(uint64_t, uint64_t) override;  // the loop thread
    uint64_t count() const { return count_.load(); }
    int fd() const { return fd_; }  // readable once a report came (poll it)
    void woken();                   // the mesh thread saw fd readable

private:
    std::atomic<uint64_t> count_{0};
    std::atomic<bool> pending_{false};
    int fd_ = -1;
};

}  // namespace rt::cluster
