// The check step's calls on the database pool (I/O): each realtime.check_rows call runs on
// a pool session (io/db_pool), keyed by its check so that calls of one check run one at a
// time and a slow check holds one connection; the outcome is queued for the slot stream,
// which an eventfd wakes. CheckPort is what the router sees (unit tests: a recorder).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "relay/io/db_pool.h"
#include "relay/slot/check_batcher.h"

namespace rt {

class CheckPort {
public:
    virtual ~CheckPort() = default;
    // Starts call off the caller's thread; its outcome comes back through take_done().
    virtual void start(CheckCall call) = 0;
    // Outcomes of the calls finished since the last take, by call id.
    virtual std::vector<std::pair<uint64_t, CheckOutcome>> take_done() = 0;
    // An outcome waits (cheap: the slot stream asks between messages).
    virtual bool ready() const = 0;
    // Readable while an outcome waits (polled beside the replication socket); -1: none.
    virtual int wake_fd() const = 0;
};

class PoolChecks : public CheckPort {
public:
    PoolChecks(DbPool& pool, int timeout_ms);
    ~PoolChecks() override;

    void start(CheckCall call) override;
    std::vector<std::pair<uint64_t, CheckOutcome>> take_done() override;
    bool ready() const override { return ready_.load(std::memory_order_acquire); }
    int wake_fd() const override { return wake_fd_; }

private:
    DbPool& pool_;
    const int timeout_ms_;
    int wake_fd_ = -1;
    std::atomic<bool> ready_{false};
    std::mutex mu_;
    std::vector<std::pair<uint64_t, CheckOutcome>> done_;
};

}  // namespace rt
