// realtime.maintain_messages at start and every period.
#include "relay/io/message_retention.h"

#include <chrono>

#include "relay/core/log.h"
#include "relay/io/authorization_sql.h"

namespace rt {

void MessageRetention::start() { thread_ = std::thread([this] { run(); }); }

void MessageRetention::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void MessageRetention::run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
        maintain();
        cv_.wait_for(lock, std::chrono::seconds(period_s_), [this] { return stopping_; });
    }
}

void MessageRetention::maintain() {
    pool_.run(DbPool::kNoClient, [this](SqlSession& s) {
        std::vector<std::pair<std::string, std::string>> done;
        DbError e;
        if (!authorization_sql::maintain_messages(s, retention_hours_, done, e)) {
            LOG_WARN("realtime.maintain_messages failed (the relay's role must own realtime.messages): %s",
                     e.message.c_str());
            return;
        }
        for (const auto& [action, partition] : done) {
            if (action == "busy")
                LOG_WARN("%s is in use (not locked in time): retried at the next maintenance",
                         partition.c_str());
            else
                LOG_INFO("realtime.maintain_messages: %s %s", action.c_str(), partition.c_str());
        }
        metrics_.message_maintenance++;
    });
}

}  // namespace rt
