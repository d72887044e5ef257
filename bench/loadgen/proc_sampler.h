// Owns: reading the server's resource use from /proc: CPU time (utime+stime of
// /proc/PID/stat, all threads) for CPU per delivery, and VmRSS from /proc/PID/status
// for memory per connection. Also the load generator's own CPU time, and the whole
// machine's, to tell when other processes ran during a measurement.
#pragma once
#include <cstdint>
#include <vector>

namespace lg {

// Sum of utime+stime of the pids in seconds; -1 if any pid cannot be read.
double proc_cpu_seconds(const std::vector<int>& pids);
// Sum of VmRSS in KiB; -1 if any pid cannot be read.
int64_t proc_rss_kb(const std::vector<int>& pids);
// CPU seconds (user+system) used by this process so far.
double self_cpu_seconds();
// Busy CPU seconds of the whole machine so far (all cores; /proc/stat user, nice, system,
// irq, softirq, steal). Minus server and load generator time over a window, it shows
// how much other processes disturbed the measurement.
double machine_busy_seconds();

}  // namespace lg
