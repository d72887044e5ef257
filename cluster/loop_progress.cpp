// The loop's count of written changes and the eventfd that wakes the mesh thread.
#include "cluster/loop_progress.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace rt::cluster {

LoopProgress::LoopProgress() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

LoopProgress::~LoopProgress() {
    if (fd_ >= 0) close(fd_);
}

// Never blocks: the eventfd is non-blocking, and its counter cannot fill with one pending.
void LoopProgress::processed(uint64_t, uint64_t) {
    count_.fetch_add(1);
    if (fd_ < 0 || pending_.exchange(true)) return;
    uint64_t one = 1;
    ssize_t n = write(fd_, &one, sizeof one);
    (void)n;
}

// Read first, then clear: a report that finds pending_ still set was counted before the
// clear, so the count the mesh thread reads next includes it; one after the clear writes.
void LoopProgress::woken() {
    uint64_t value;
    ssize_t n = read(fd_, &value, sizeof value);
    (void)n;
    pending_.store(false);
}

}  // namespace rt::cluster
