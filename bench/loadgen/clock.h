// Owns: the two clocks the load generator reads. CLOCK_MONOTONIC nanoseconds time the
// publish-to-receive path (sender and receiver are on this machine); CLOCK_REALTIME
// microseconds compare against timestamps written by Postgres clients (latency-watch).
#pragma once
#include <cstdint>
#include <ctime>

namespace lg {

inline int64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

inline int64_t real_us() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000LL + ts.tv_nsec / 1000;
}

constexpr int64_t kNsPerSec = 1000000000LL;

inline int64_t sec_to_ns(double s) { return int64_t(s * 1e9); }

}  // namespace lg
