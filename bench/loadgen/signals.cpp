// Owns: the signal handlers (see signals.h).
#include "bench/loadgen/signals.h"

#include <csignal>
#include <cstring>

namespace lg {

std::atomic<bool> g_interrupted{false};

static void on_signal(int) { g_interrupted.store(true); }

void install_signal_handlers() {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

}  // namespace lg
