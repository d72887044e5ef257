// The way other threads hand work to the loop thread: a locked queue of closures, and
// one wake-up of the loop (lws_cancel_service through `wake`) when the queue turns
// non-empty, so a burst of messages costs one wake-up.
#pragma once

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace rt {

template <typename Target>
class Mailbox {
public:
    using Task = std::function<void(Target&)>;

    explicit Mailbox(std::function<void()> wake) : wake_(std::move(wake)) {}

    void post(Task task) {
        bool was_empty;
        {
            std::lock_guard<std::mutex> lock(mu_);
            was_empty = tasks_.empty();
            tasks_.push_back(std::move(task));
        }
        if (was_empty) wake_();
    }

    // Runs everything posted so far on the calling (loop) thread.
    size_t drain(Target& target) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            running_.swap(tasks_);
        }
        size_t n = running_.size();
        for (Task& t : running_) t(target);
        running_.clear();
        return n;
    }

private:
    std::function<void()> wake_;
    std::mutex mu_;
    std::vector<Task> tasks_;
    std::vector<Task> running_;
};

}  // namespace rt
