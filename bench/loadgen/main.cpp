// Owns: the program's entry: raising RLIMIT_NOFILE to its hard limit, signal setup,
// argument parsing (options.cpp) and dispatch to the scenario.
#include <sys/resource.h>

#include <cstdio>
#include <string>

#include "bench/loadgen/options.h"
#include "bench/loadgen/runner.h"
#include "bench/loadgen/scenario.h"
#include "bench/loadgen/signals.h"

namespace {

lg::NofileLimits raise_nofile() {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return {(long long)rl.rlim_cur, (long long)rl.rlim_max};
}

}  // namespace

int main(int argc, char** argv) {
    lg::Options opt;
    std::string err;
    int rc = lg::parse_options(argc, argv, &opt, &err);
    if (rc == 1) return lg::kExitOk;
    if (rc < 0) {
        std::fprintf(stderr, "rt-loadgen: %s\n", err.c_str());
        return lg::kExitUsage;
    }
    lg::NofileLimits limits = raise_nofile();
    if (uint64_t(opt.clients) + uint64_t(opt.publishers) + 16 > uint64_t(limits.soft))
        std::fprintf(stderr, "rt-loadgen: warning: %d clients exceed the open-file limit %lld\n", opt.clients,
                     limits.soft);
    lg::install_signal_handlers();

    lg::Runner runner(opt);
    if (!runner.prepare(&err)) {
        std::fprintf(stderr, "rt-loadgen: %s\n", err.c_str());
        return lg::kExitSetup;
    }
    if (opt.protocol == lg::Protocol::kPhoenix && runner.ctx.token.empty())
        std::fprintf(stderr, "rt-loadgen: warning: no --token or --jwt-secret; the relay will refuse\n");
    switch (opt.scenario) {
        case lg::Scenario::kFanout: return lg::run_fanout(runner, limits);
        case lg::Scenario::kIdle: return lg::run_idle(runner, limits);
        case lg::Scenario::kStorm: return lg::run_storm(runner, limits);
        case lg::Scenario::kLatencyWatch: return lg::run_latency_watch(runner, limits);
    }
    return lg::kExitUsage;
}
