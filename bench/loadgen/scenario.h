// Owns: the entry points of the four scenarios (one file each) and the exit codes they
// share. Each prepares nothing itself: main() prepares the Runner, the scenario plans
// the clients, drives the phases, and emits the Report.
#pragma once
#include "bench/loadgen/report.h"
#include "bench/loadgen/runner.h"

namespace lg {

constexpr int kExitOk = 0;
constexpr int kExitSetup = 1;     // bad target, cannot resolve
constexpr int kExitUsage = 2;
constexpr int kExitNoClients = 3; // nobody joined (the JSON is printed all the same)

int run_fanout(Runner& r, const NofileLimits& limits);
int run_idle(Runner& r, const NofileLimits& limits);
int run_storm(Runner& r, const NofileLimits& limits);
int run_latency_watch(Runner& r, const NofileLimits& limits);

// Shared by scenarios: the server and load generator CPU block over a window.
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
