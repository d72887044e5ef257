// Owns: CPU accounting over a measurement window: the server's utime+stime (for
// --server-pid), the load generator's own, and the whole machine's busy time, whose
// remainder tells how much other processes ran during the window.
#pragma once
#include "bench/loadgen/options.h"
#include "bench/loadgen/report.h"

namespace lg {

struct CpuWindow {
    double server_start = -1, server_end = -1;
    double self_start = 0, self_end = 0;
    double machine_start = -1, machine_end = -1;
    void begin(const Options& o);
    void end(const Options& o);
    double server_seconds() const { return server_start >= 0 && server_end >= 0 ? server_end - server_start : -1; }
    double self_seconds() const { return self_end - self_start; }
    // CPU used by everything but the server and this generator (-1 if unknown)
    double foreign_seconds() const;
    // Writes "machine": {...} and warns when other processes took over 5 % of a core.
    void report_machine(Report& rep, double window_s) const;
};

}  // namespace lg
