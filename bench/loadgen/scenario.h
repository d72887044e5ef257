// Owns: the entry points of the four scenarios (one file each) and the exit codes they
// share. Each prepares nothing itself: main() prepares the Runner, the scenario plans
// the clients, drives the phases, and emits the Report.
#pragma once
#include "bench/loadgen/cpu_window.h"
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


}  // namespace lg
