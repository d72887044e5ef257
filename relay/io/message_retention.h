// The retention of realtime.messages (I/O): at start and then every hour, a job on the
// database pool runs realtime.maintain_messages with --message-retention-hours, which
// makes the coming days' partitions and drops those past retention (the partition of a
// day goes once its last message is older than the retention). Every relay runs it:
// one is enough, and concurrent runs agree (a partition another run holds is "busy" and
// retried the next hour). Its own thread only waits; the work is the pool's.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "relay/core/metrics.h"
#include "relay/io/db_pool.h"

namespace rt {

class MessageRetention {
public:
    MessageRetention(DbPool& pool, Metrics& metrics, int retention_hours, int period_s = 3600)
        : pool_(pool), metrics_(metrics), retention_hours_(retention_hours), period_s_(period_s) {}
    ~MessageRetention() { stop(); }

    void start();
    void stop();

private:
    void run();
    void maintain();

    DbPool& pool_;
    Metrics& metrics_;
    const int retention_hours_;
    const int period_s_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace rt
