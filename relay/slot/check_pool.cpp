// Check calls on the pool, their outcomes back to the slot stream.
#include "relay/slot/check_pool.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <functional>

#include "relay/slot/check_sql.h"

namespace rt {
namespace {

// Pool keys of checks: apart from the clients' (connection ids count up from 1).
uint64_t pool_key(const CheckKey& key) { return std::hash<std::string>{}(key.id()) | (1ull << 63); }

}  // namespace

PoolChecks::PoolChecks(DbPool& pool, int timeout_ms)
    : pool_(pool), timeout_ms_(timeout_ms), wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

PoolChecks::~PoolChecks() {
    if (wake_fd_ >= 0) close(wake_fd_);
}

void PoolChecks::start(CheckCall call) {
    uint64_t key = pool_key(call.key);
    pool_.run(key, [this, call = std::move(call)](SqlSession& s) {
        CheckOutcome outcome = check_sql::check_rows(s, call, timeout_ms_);
        {
            std::lock_guard<std::mutex> lock(mu_);
            done_.emplace_back(call.id, std::move(outcome));
            ready_.store(true, std::memory_order_release);
        }
        uint64_t one = 1;
        ssize_t ignored = write(wake_fd_, &one, sizeof one);
        (void)ignored;
    });
}

std::vector<std::pair<uint64_t, CheckOutcome>> PoolChecks::take_done() {
    uint64_t count;
    ssize_t ignored = read(wake_fd_, &count, sizeof count);
    (void)ignored;
    std::lock_guard<std::mutex> lock(mu_);
    ready_.store(false, std::memory_order_release);
    return std::exchange(done_, {});
}

}  // namespace rt
