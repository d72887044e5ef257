// Owns: the storm scenario: start CLIENTS connect+join attempts as fast as the limits
// allow (--max-pending per thread, --connect-rate) and time from the first attempt to
// the last successful join; joins/s = joined / that time.
#include <algorithm>

#include "bench/loadgen/clock.h"
#include "bench/loadgen/scenario.h"

namespace lg {

int run_storm(Runner& r, const NofileLimits& limits) {
    const Options& o = r.opt;
    r.plan(o.clients, 0);
    Report rep(o, r.ctx, limits);
    CpuWindow cpu;
    cpu.begin(o);
    int64_t t0 = mono_ns();
    r.start();
    r.wait_for([&](const Totals& t) { return r.clients_settled(t); }, r.connect_deadline_s(), "storm");
    int64_t settled = mono_ns();
    cpu.end(o);
    r.write_ready_file();
    Totals t = r.totals();
    bool interrupted = r.interrupted();
    r.stop();

    int64_t last = r.merged.last_join_ns > 0 ? r.merged.last_join_ns : settled;
    double secs = std::max(1e-9, double(last - t0) / 1e9);
    double joins_per_s = double(t.joined) / secs;
    rep.connections(t, o.clients);
    rep.latency("join_latency_us", "connect->joined", r.merged.join_ns);
    auto& j = rep.json();
    j.key("storm").begin_object();
    j.key("elapsed_s").value(secs);
    j.key("joins_per_second").value(joins_per_s);
    j.key("settled_s").value(double(settled - t0) / 1e9);
    j.end_object();
    j.key("server");
    if (cpu.server_seconds() < 0) {
        j.null();
    } else {
        j.begin_object();
        j.key("cpu_s").value(cpu.server_seconds());
        j.key("cpu_us_per_join").value(t.joined ? cpu.server_seconds() * 1e6 / double(t.joined) : 0);
        j.end_object();
    }
    rep.section("storm");
    rep.row("joins/s", Report::num(joins_per_s) + " (" + std::to_string(t.joined) + " in " + Report::num(secs, 3) + " s)");
    if (cpu.server_seconds() >= 0) rep.row("server cpu", Report::num(cpu.server_seconds(), 2) + " s");
    cpu.report_machine(rep, double(settled - t0) / 1e9);
    rep.errors(r.merged.errors);
    rep.emit(interrupted, t.joined > 0);
    return t.joined > 0 ? kExitOk : kExitNoClients;
}

}  // namespace lg
