// The relay's clocks: monotonic time for timeouts and latencies (any thread), and wall
// time as clients read it.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

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

// Seconds since the epoch as ISO 8601 UTC, e.g. 2026-12-01T11:25:54Z.
inline std::string iso8601_utc(int64_t wall_s) {
    time_t t = static_cast<time_t>(wall_s);
    struct tm utc {};
    gmtime_r(&t, &utc);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return buf;
}

// Wall-clock milliseconds since the epoch: compared across nodes (a broadcast's age),
// which assumes their clocks agree within a small fraction of --broadcast-max-age-ms
// (NTP keeps them within milliseconds).
inline int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace rt
