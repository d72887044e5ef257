// Owns: the idle scenario: CLIENTS connections joined to their channels, heartbeats
// running, held for --duration seconds. With --server-pid, the server's VmRSS is read
// before the first connection, once all are joined, and at the end of the hold; bytes
// per connection = (RSS at end - RSS before) / connections open at the end.
#include "bench/loadgen/clock.h"
#include "bench/loadgen/proc_sampler.h"
#include "bench/loadgen/scenario.h"

namespace lg {

int run_idle(Runner& r, const NofileLimits& limits) {
    const Options& o = r.opt;
    int64_t rss_before = o.server_pids.empty() ? -1 : proc_rss_kb(o.server_pids);
    r.plan(o.clients, 0);
    Report rep(o, r.ctx, limits);
    r.start();
    r.wait_for([&](const Totals& t) { return r.clients_settled(t); }, r.connect_deadline_s(), "connect");
    int64_t rss_joined = o.server_pids.empty() ? -1 : proc_rss_kb(o.server_pids);
    r.write_ready_file();

    CpuWindow cpu;
    int64_t hold_start = mono_ns();
    cpu.begin(o);
    r.sleep_until(hold_start + sec_to_ns(o.duration), "hold");
    cpu.end(o);
    double held = double(mono_ns() - hold_start) / 1e9;
    int64_t rss_end = o.server_pids.empty() ? -1 : proc_rss_kb(o.server_pids);
    Totals t = r.totals();
    bool interrupted = r.interrupted();
    r.stop();

    uint64_t open = t.joined - t.disconnects;
    rep.connections(t, o.clients);
    rep.latency("join_latency_us", "connect->joined", r.merged.join_ns);
    auto& j = rep.json();
    j.key("idle").begin_object();
    j.key("hold_s").value(held);
    j.key("heartbeat_s").value(o.heartbeat);
    j.key("heartbeats_sent").value(t.heartbeats_sent);
    j.key("heartbeat_replies").value(t.heartbeat_replies);
    j.key("open_at_end").value(open);
    j.end_object();
    rep.section("idle");
    rep.row("held", Report::num(held, 1) + " s with " + std::to_string(open) + " connections open");
    rep.row("heartbeats sent / replies", std::to_string(t.heartbeats_sent) + " / " + std::to_string(t.heartbeat_replies));

    j.key("server");
    if (o.server_pids.empty() || rss_before < 0 || rss_end < 0) {
        j.null();
        if (!o.server_pids.empty()) rep.warn("could not read /proc for --server-pid");
    } else {
        double per_conn = open ? double(rss_end - rss_before) * 1024.0 / double(open) : 0;
        j.begin_object();
        j.key("rss_before_kb").value(rss_before);
        j.key("rss_joined_kb").value(rss_joined);
        j.key("rss_end_kb").value(rss_end);
        j.key("bytes_per_connection").value(per_conn);
        j.key("cpu_s").value(cpu.server_seconds());
        j.key("cpu_util").value(held > 0 ? cpu.server_seconds() / held : 0);
        j.end_object();
        rep.section("server");
        rep.row("RSS before / joined / end", std::to_string(rss_before) + " / " + std::to_string(rss_joined) +
                                                 " / " + std::to_string(rss_end) + " KiB");
        rep.row("bytes per idle connection", Report::num(per_conn));
        rep.row("cpu while idle", Report::num(cpu.server_seconds(), 2) + " s");
    }
    cpu.report_machine(rep, held);
    rep.errors(r.merged.errors);
    rep.emit(interrupted, t.joined > 0);
    return t.joined > 0 ? kExitOk : kExitNoClients;
}

}  // namespace lg
