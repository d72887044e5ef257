// Signals and limits of the relay process.
#include "relay/io/process.h"

#include <signal.h>
#include <sys/resource.h>

#include <thread>

#include "relay/core/log.h"

namespace rt {
namespace {

// Raises the open-file soft limit to the hard limit.
rlim_t raise_fd_limit() {
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

sigset_t shutdown_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

void size_connection_limit(Config& cfg, rlim_t fds) {
    const int reserved_fds = 64;  // database, cluster, listening socket, logs
    int capacity = fds > reserved_fds ? static_cast<int>(fds) - reserved_fds : 1;
    if (cfg.limits.max_connections > capacity)
        LOG_WARN("--max-connections %d exceeds what the open-file limit allows; using %d", cfg.limits.max_connections,
                 capacity);
    if (cfg.limits.max_connections == 0 || cfg.limits.max_connections > capacity)
        cfg.limits.max_connections = capacity;
}

}  // namespace

Process::Process(Config& cfg) {
    signal(SIGPIPE, SIG_IGN);
    sigset_t signals = shutdown_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by every thread started later
    rlim_t fds = raise_fd_limit();
    size_connection_limit(cfg, fds);
    fds_ = static_cast<uint64_t>(fds);
}

void Process::on_shutdown_signal(std::function<void()> fn) {
    std::thread([fn = std::move(fn)] {
        sigset_t signals = shutdown_signals();
        int sig = 0;
        sigwait(&signals, &sig);
        LOG_INFO("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        fn();
    }).detach();
}

}  // namespace rt
