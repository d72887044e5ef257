// Owns: SIGINT/SIGTERM handling: the first signal asks the run to end early (the
// result is still reported), SIGPIPE is ignored (sends use MSG_NOSIGNAL anyway).
#pragma once
#include <atomic>

namespace lg {

extern std::atomic<bool> g_interrupted;
void install_signal_handlers();

}  // namespace lg
