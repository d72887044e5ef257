// The pool's workers: one PgSession each, jobs from the keyed queue.
#include "relay/io/db_pool.h"

#include <future>

#include "relay/core/log.h"
#include "relay/io/pg_session.h"

namespace rt {

DbPool::DbPool(Options options) : options_(std::move(options)) {}

DbPool::~DbPool() { stop(); }

void DbPool::start() {
    for (int i = 0; i < options_.size; ++i) threads_.emplace_back([this, i] { worker(i); });
}

void DbPool::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

void DbPool::run(uint64_t key, Work work) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_ && threads_.empty()) return;
        queue_.push(key, std::move(work));
    }
    cv_.notify_one();
}

void DbPool::as_user(uint64_t key, UserContext ctx, TxEnd end, TxWork work, std::function<void(DbError)> finish) {
    run(key, [ctx = std::move(ctx), end, work = std::move(work), finish = std::move(finish)](SqlSession& s) {
        DbError error = rt::as_user(s, ctx, end, work);
        if (finish) finish(std::move(error));
    });
}

bool DbPool::run_and_wait(Work work, int timeout_ms) {
    auto finished = std::make_shared<std::promise<void>>();
    std::future<void> f = finished->get_future();
    run(kNoClient, [work = std::move(work), finished](SqlSession& s) {
        work(s);
        finished->set_value();
    });
    return f.wait_for(std::chrono::milliseconds(timeout_ms)) == std::future_status::ready;
}

size_t DbPool::queued() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
}

void DbPool::worker(int index) {
    PgSession session(options_.conninfo, options_.name + " " + std::to_string(index + 1),
                      options_.statement_timeout_ms);
    session.connected();  // open the connection now, not at the first job
    for (;;) {
        std::pair<uint64_t, Work> job;
        {
            std::unique_lock<std::mutex> lock(mu_);
            std::optional<std::pair<uint64_t, Work>> next;
            // Woken by every new job and finished key; stops once nothing is queued.
            cv_.wait(lock, [&] { return (next = queue_.take()) || (stopping_ && queue_.empty()); });
            if (!next) return;
            job = std::move(*next);
        }
        session.connected();  // reconnects a lost connection when its backoff allows
        job.second(session);
        {
            std::lock_guard<std::mutex> lock(mu_);
            queue_.finished(job.first);
        }
        cv_.notify_all();  // the key's next job may be ready for another worker
    }
}

}  // namespace rt
