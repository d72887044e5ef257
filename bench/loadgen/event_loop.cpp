// Owns: the epoll loop declared in event_loop.h.
#include "bench/loadgen/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "bench/loadgen/clock.h"

namespace lg {

namespace {
constexpr size_t kMaxEvents = 1024;
constexpr size_t kScratchBytes = 256 * 1024;
}  // namespace

EventLoop::EventLoop() : events_(kMaxEvents), scratch_(kScratchBytes) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::runtime_error("epoll_create1 failed");
    wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakefd_ < 0) throw std::runtime_error("eventfd failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // null marks the wake-up fd
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
    rng_ = uint64_t(mono_ns()) ^ (uint64_t(reinterpret_cast<uintptr_t>(this)) << 17) ^
           0x9E3779B97F4A7C15ull;
}

EventLoop::~EventLoop() {
    if (wakefd_ >= 0) close(wakefd_);
    if (epfd_ >= 0) close(epfd_);
}

bool EventLoop::add(int fd, uint32_t events, IoHandler* h) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = h;
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::mod(int fd, uint32_t events, IoHandler* h) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = h;
    return epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::del(int fd) {
    epoll_event ev{};
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
}

int EventLoop::run_once(int timeout_ms) {
    int n = epoll_wait(epfd_, events_.data(), int(events_.size()), timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        auto* h = static_cast<IoHandler*>(events_[i].data.ptr);
        if (!h) {
            uint64_t v;
            while (read(wakefd_, &v, sizeof v) > 0) {
            }
            continue;
        }
        h->on_io(events_[i].events);
    }
    return n;
}

void EventLoop::wake() {
    uint64_t one = 1;
    ssize_t r = write(wakefd_, &one, sizeof one);
    (void)r;
}

uint64_t EventLoop::rand64() {
    // xorshift64*: masks only need to be unpredictable to a non-adversarial server
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 2685821657736338717ull;
}

}  // namespace lg
