// The database pool (I/O): a few libpq sessions, each on a thread of its own, that run
// the database work clients cause (joins' subscriptions, authorization checks) off the
// loop thread. Jobs carry the client's key (core/keyed_queue.h): one client's jobs run
// one at a time, in order, so a slow or stuck statement holds one connection and
// delays nobody else; every statement is bounded by the session's statement_timeout
// (57014 comes back as DbError::Kind::Timeout). A job hands its result to the loop
// through the loop's inbound port (hub/inbound.h), from the pool thread:
//
//   pool.run(conn.id, [&loop](SqlSession& s) { ...; loop.some_result(r); });
//   pool.as_user(conn.id, {claims_json, topic}, TxEnd::Rollback,
//                [&r](SqlSession& tx, DbError& e) { return tx.exec(..., &rows, e); },
//                [&loop, r](DbError e) { loop.some_result(r, e); });
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "relay/core/keyed_queue.h"
#include "relay/core/sql_session.h"
#include "relay/core/user_transaction.h"

namespace rt {

class DbPool {
public:
    using Work = std::function<void(SqlSession&)>;
    static constexpr uint64_t kNoClient = KeyedQueue<Work>::kNoKey;

    struct Options {
        std::string conninfo;
        std::string name;  // application_name of its connections, and logs
        int size = 4;
        int statement_timeout_ms = 5000;
    };

    explicit DbPool(Options options);
    ~DbPool();
    DbPool(const DbPool&) = delete;
    DbPool& operator=(const DbPool&) = delete;

    // Starts the workers; each connects on its own thread.
    void start();
    // Runs what is queued, then stops the workers. Jobs queued later are dropped.
    void stop();

    // Any thread: runs work on a pool session, on a pool thread. key: the client it runs
    // for (0: none; such jobs never wait for each other).
    void run(uint64_t key, Work work);

    // Any thread: work inside one transaction as ctx's user (core/user_transaction.h),
    // committed or rolled back as end says; then finish, on the pool thread, with the
    // first error (kind None when none).
    void as_user(uint64_t key, UserContext ctx, TxEnd end, TxWork work, std::function<void(DbError)> finish);

    // Runs work and waits up to timeout_ms for it to finish (never on the loop thread:
    // startup and shutdown). False if it did not finish in time.
    bool run_and_wait(Work work, int timeout_ms);

    const Options& options() const { return options_; }
    size_t queued() const;

private:
    void worker(int index);

    const Options options_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    KeyedQueue<Work> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace rt
