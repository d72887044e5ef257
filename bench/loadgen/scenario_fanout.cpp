// Owns: the fanout scenario. Clients join their channels; publishers then send for
// --warmup + --duration seconds at --rate (or as fast as --max-outstanding allows);
// only messages sent inside the window count for loss and latency, and deliveries
// received inside it for deliveries/s and server CPU per delivery. After the window,
// publishing stops and in-flight deliveries get up to --drain seconds to arrive.
#include <algorithm>

#include "bench/loadgen/clock.h"
#include "bench/loadgen/proc_sampler.h"
#include "bench/loadgen/scenario.h"

namespace lg {

namespace {

struct Window {
    int64_t start = 0, end = 0;
    double seconds() const { return double(end - start) / 1e9; }
};

void report_fanout(Runner& r, Report& rep, const Totals& t, const Window& w, const CpuWindow& cpu,
                   double drain_used) {
    const Options& o = r.opt;
    double secs = std::max(1e-9, w.seconds());
    uint64_t lost = t.expected_window > t.deliveries_window ? t.expected_window - t.deliveries_window : 0;
    double loss_ratio = t.expected_window ? double(lost) / double(t.expected_window) : 0;
    double per_sec = double(t.received_in_window) / secs;
    auto& j = rep.json();

    j.key("window").begin_object();
    j.key("warmup_s").value(o.warmup);
    j.key("duration_s").value(secs);
    j.key("drain_s").value(drain_used);
    j.end_object();

    j.key("publish").begin_object();
    j.key("publishers_ready").value(t.publishers_ready);
    j.key("rate_target").value(r.ctx.rate);
    j.key("sent").value(t.published_window);
    j.key("rate_actual").value(double(t.published_window) / secs);
    j.key("sent_total").value(t.published);
    j.key("errors").value(t.publish_errors);
    j.key("skipped").value(t.publish_skipped);
    j.end_object();

    j.key("deliveries").begin_object();
    j.key("expected").value(t.expected_window);
    j.key("received").value(t.deliveries_window);
    j.key("lost").value(lost);
    j.key("loss_ratio").value(loss_ratio);
    j.key("per_second").value(per_sec);
    j.key("received_in_window").value(t.received_in_window);
    j.key("received_total").value(t.deliveries);
    j.key("undecodable").value(t.undecodable);
    j.end_object();

    rep.section("fanout");
    rep.row("window", Report::num(secs, 2) + " s after " + Report::num(o.warmup, 1) + " s warmup");
    rep.row("publish rate (target / actual)",
            (r.ctx.rate > 0 ? Report::num(r.ctx.rate) : std::string("max")) + " / " +
                Report::num(double(t.published_window) / secs) + " msg/s");
    rep.row("publish errors / skipped", std::to_string(t.publish_errors) + " / " + std::to_string(t.publish_skipped));
    rep.row("deliveries/s", Report::num(per_sec));
    rep.row("expected / received / lost",
            std::to_string(t.expected_window) + " / " + std::to_string(t.deliveries_window) + " / " +
                std::to_string(lost) + " (" + Report::num(loss_ratio * 100, 3) + " %)");
    rep.latency("latency_us", "latency publish->receive", r.merged.latency_ns);

    double server_s = cpu.server_seconds();
    j.key("server");
    if (o.server_pids.empty() || server_s < 0) {
        j.null();
        if (!o.server_pids.empty()) rep.warn("could not read /proc for --server-pid");
    } else {
        double us_per = t.received_in_window ? server_s * 1e6 / double(t.received_in_window) : 0;
        j.begin_object();
        j.key("cpu_s").value(server_s);
        j.key("cpu_util").value(server_s / secs);
        j.key("cpu_us_per_delivery").value(us_per);
        // what one fully busy core would deliver at this cost: a projection, useful when
        // the generator (one core too) cannot push the server to saturation
        j.key("projected_deliveries_per_core_s").value(us_per > 0 ? 1e6 / us_per : 0);
        j.key("rss_kb").value(int64_t(proc_rss_kb(o.server_pids)));
        j.end_object();
        rep.section("server");
        rep.row("cpu in window", Report::num(server_s, 2) + " s (" + Report::num(server_s / secs * 100, 1) + " % of a core)");
        rep.row("cpu per delivery", Report::num(us_per, 2) + " us (one core: " +
                                        Report::num(us_per > 0 ? 1e6 / us_per : 0) + " deliveries/s)");
    }
    double self_s = cpu.self_seconds();
    j.key("loadgen").begin_object();
    j.key("cpu_s").value(self_s);
    j.key("cpu_util").value(self_s / secs);
    j.end_object();
    rep.row("load generator cpu", Report::num(self_s / secs * 100, 1) + " % of a core");
    cpu.report_machine(rep, secs);
    if (self_s / secs > 0.9 * o.threads)
        rep.warn("the load generator used all its CPU: figures may be bounded by it (more --threads/cores)");
    if (r.ctx.rate > 0 && t.publish_skipped > 0)
        rep.warn("publishers could not keep the fixed rate (" + std::to_string(t.publish_skipped) + " messages skipped)");
}

}  // namespace

int run_fanout(Runner& r, const NofileLimits& limits) {
    const Options& o = r.opt;
    r.plan(o.clients, o.publishers);
    Report rep(o, r.ctx, limits);
    r.start();

    r.wait_for([&](const Totals& t) { return r.clients_settled(t); }, r.connect_deadline_s(), "connect");
    if (r.totals().joined > 0)
        r.wait_for([&](const Totals& t) { return t.publishers_ready >= uint64_t(r.ctx.publishers_total); }, 10,
                   "publishers");
    Totals after_connect = r.totals();
    if (after_connect.publishers_ready < uint64_t(r.ctx.publishers_total))
        rep.warn("only " + std::to_string(after_connect.publishers_ready) + " of " +
                 std::to_string(r.ctx.publishers_total) + " publishers ready");
    r.write_ready_file();

    Window w;
    CpuWindow cpu;
    double drain_used = 0;
    if (after_connect.joined > 0 && !r.interrupted()) {
        int64_t t0 = mono_ns() + 20 * 1000 * 1000;
        w.start = t0 + sec_to_ns(o.warmup);
        w.end = w.start + sec_to_ns(o.duration);
        r.ctx.pub_start_ns.store(t0);
        r.ctx.win_start_ns.store(w.start);
        r.ctx.win_end_ns.store(w.end);
        r.ctx.publishing.store(true);
        r.sleep_until(w.start, "warmup");
        cpu.begin(o);
        bool full = r.sleep_until(w.end, "measure");
        cpu.end(o);
        if (!full) w.end = mono_ns();
        int64_t d0 = mono_ns();
        r.wait_for([](const Totals& t) { return t.deliveries_window >= t.expected_window; }, o.drain, "drain");
        drain_used = double(mono_ns() - d0) / 1e9;
    }
    Totals t = r.totals();
    bool interrupted = r.interrupted();
    r.stop();

    rep.connections(t, o.clients);
    rep.latency("join_latency_us", "connect->joined", r.merged.join_ns);
    report_fanout(r, rep, t, w, cpu, drain_used);
    rep.errors(r.merged.errors);
    bool ok = t.joined > 0 && t.deliveries_window > 0;
    rep.emit(interrupted, ok);
    return t.joined > 0 ? kExitOk : kExitNoClients;
}

}  // namespace lg
