// The relay's database thread (I/O): one libpq connection that runs subscription
// changes and registry updates in order, off the loop thread. Results go back to the
// loop through its inbound port. The connection is re-established with backoff.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "relay/core/events.h"
#include "relay/hub/inbound.h"
#include "relay/hub/ports.h"
#include "relay/io/pg.h"

namespace rt {

class DbWorker : public DbPort {
public:
    DbWorker(std::string conninfo, std::string node_id, LoopInbound& loop);
    ~DbWorker() override;

    // Connects once, synchronously, and checks that the extension is installed; on
    // failure returns false with a one-line reason. Call before start().
    bool check(std::string& error);
    void start();
    void stop();

    // DbPort (loop thread)
    bool available() const override { return true; }
    void subscribe(uint64_t member_id, std::vector<BindingSpec> bindings, std::string claims_json) override;
    void unsubscribe(std::vector<int64_t> ids) override;

    // This node's rows left by a previous run (a crash); after check(), before start().
    bool fetch_orphans(std::vector<OrphanRow>& rows, std::string& error);
    // Deletes every row of this node and waits for it (graceful shutdown); later
    // unsubscribes are skipped, since the rows are gone.
    bool unsubscribe_node_and_wait(int timeout_ms);
    // Runs fn on the database thread with a connected connection (or nullptr when the
    // database is unreachable); for the cluster registry.
    void run(std::function<void(pg_conn*)> fn);

private:
    void loop();
    pg_conn* connection();
    void reset_connection();

    const std::string conninfo_;
    const std::string node_id_;
    LoopInbound& loop_;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void(pg_conn*)>> jobs_;
    bool stopping_ = false;
    bool node_released_ = false;
    pg_conn* conn_ = nullptr;
    int64_t next_attempt_ms_ = 0;
    int backoff_ms_ = 0;
};

}  // namespace rt
