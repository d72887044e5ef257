// The relay's clocks: monotonic time for timeouts and latencies (any thread).
#pragma once

#include <chrono>
#include <cstdint>

namespace rt {

inline int64_t mono_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

inline int64_t mono_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace rt
