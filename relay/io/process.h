// The process around the relay (I/O): SIGPIPE ignored, SIGTERM and SIGINT taken by one
// thread with sigwait (so no handler ever runs inside the loop), the open-file limit
// raised to the hard limit (every connection is a descriptor), and --max-connections
// sized to what that limit allows.
#pragma once

#include <cstdint>
#include <functional>

#include "relay/core/config.h"

namespace rt {

class Process {
public:
    // Blocks the shutdown signals in this thread and every thread started after it.
    explicit Process(Config& cfg);
    uint64_t fd_limit() const { return fds_; }
    // Calls fn (on a thread of its own) at the first SIGTERM or SIGINT.
    void on_shutdown_signal(std::function<void()> fn);

private:
    uint64_t fds_ = 0;
};

}  // namespace rt
