// Owns: one epoll instance per worker thread. Handlers register a file descriptor with a
// pointer to themselves and get on_io() with the ready events (level- or edge-triggered,
// as they register). Also owns the thread's receive scratch buffer (one per thread, not
// per connection), a wake-up eventfd other threads may poke, and a cheap random source
// for frame masks.
#pragma once
#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lg {

class IoHandler {
public:
    virtual ~IoHandler() = default;
    virtual void on_io(uint32_t events) = 0;
};

class EventLoop {
public:
    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    bool add(int fd, uint32_t events, IoHandler* h);
    bool mod(int fd, uint32_t events, IoHandler* h);
    void del(int fd);
    // Waits at most timeout_ms for events and dispatches them; returns how many.
    int run_once(int timeout_ms);
    // Interrupts a run_once() in progress; callable from any thread.
    void wake();

    char* scratch() { return scratch_.data(); }
    size_t scratch_size() const { return scratch_.size(); }
    uint64_t rand64();

private:
    int epfd_ = -1;
    int wakefd_ = -1;
    std::vector<epoll_event> events_;
    std::vector<char> scratch_;
    uint64_t rng_;
};

}  // namespace lg
