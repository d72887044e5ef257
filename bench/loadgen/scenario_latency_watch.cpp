// Owns: the latency-watch scenario (the Postgres changes path). CLIENTS connections
// join one channel with the --pg-changes bindings and wait for "Subscribed to
// PostgreSQL" (unless --no-wait-subscribed); then READY is announced (stderr and
// --ready-file) so a script can start writing rows. For each postgres_changes push the
// latency is now (CLOCK_REALTIME) minus the record's --ts-field. The watch ends after
// --warmup + --duration seconds, or earlier once every open client has --expect records.
#include <algorithm>

#include "bench/loadgen/clock.h"
#include "bench/loadgen/scenario.h"

namespace lg {

int run_latency_watch(Runner& r, const NofileLimits& limits) {
    const Options& o = r.opt;
    r.plan(o.clients, 0);
    Report rep(o, r.ctx, limits);
    if (o.warmup <= 0) r.ctx.win_start_ns.store(0);  // every record counts, even before READY
    r.start();
    r.wait_for([&](const Totals& t) { return r.clients_settled(t); }, r.connect_deadline_s(), "join");
    if (o.wait_subscribed) {
        bool all = r.wait_for([&](const Totals& t) { return t.subscribed + t.failed + t.disconnects >= uint64_t(o.clients); },
                              o.connect_timeout, "subscribe");
        if (!all) rep.warn("not every client got \"Subscribed to PostgreSQL\" within --connect-timeout");
    }
    Totals ready = r.totals();
    int64_t start = mono_ns();
    if (o.warmup > 0) r.ctx.win_start_ns.store(start + sec_to_ns(o.warmup));
    r.write_ready_file();

    int64_t end = start + sec_to_ns(o.warmup + o.duration);
    bool expect_met = false;
    if (ready.joined > 0) {
        auto done = [&](const Totals& t) {
            uint64_t open = t.joined - t.disconnects;
            return (o.expect > 0 && open > 0 && t.clients_done >= open) || mono_ns() >= end;
        };
        r.wait_for(done, o.warmup + o.duration + 1, "watch");
        Totals t = r.totals();
        expect_met = o.expect > 0 && t.clients_done >= t.joined - t.disconnects && t.joined > t.disconnects;
    }
    double watched = double(mono_ns() - start) / 1e9;
    Totals t = r.totals();
    bool interrupted = r.interrupted();
    r.stop();

    rep.connections(t, o.clients);
    rep.latency("join_latency_us", "connect->joined", r.merged.join_ns);
    auto& j = rep.json();
    j.key("watch").begin_object();
    j.key("subscribed").value(t.subscribed);
    j.key("watched_s").value(watched);
    j.key("records").value(t.pg_records);
    j.key("records_measured").value(t.pg_records_window);
    j.key("records_without_ts").value(r.merged.pg_without_ts);
    j.key("expect").value(o.expect);
    j.key("clients_done").value(t.clients_done);
    j.key("expect_met").value(expect_met);
    j.key("types").begin_object();
    for (auto& [k, v] : r.merged.pg_types) j.key(k).value(v);
    j.end_object();
    j.key("ts_field").value(o.ts_field);
    j.key("first_record_unix_us").value(r.merged.pg_first_us);
    j.key("last_record_unix_us").value(r.merged.pg_last_us);
    j.end_object();
    rep.section("latency-watch");
    rep.row("subscribed", std::to_string(t.subscribed) + " / " + std::to_string(o.clients));
    rep.row("records received (measured)", std::to_string(t.pg_records) + " (" + std::to_string(t.pg_records_window) + ")");
    if (r.merged.pg_without_ts) rep.row("records without " + o.ts_field, std::to_string(r.merged.pg_without_ts));
    if (o.expect > 0) rep.row("clients with --expect records", std::to_string(t.clients_done));
    rep.latency("latency_us", "latency record->receive", r.merged.latency_ns);
    if (o.print_ids) {
        j.key("ids").begin_array();
        for (auto& [client, ids] : r.merged.ids) {
            j.begin_array();
            for (auto& id : ids) j.value(id);
            j.end_array();
        }
        j.end_array();
    }
    rep.errors(r.merged.errors);
    rep.emit(interrupted, t.joined > 0);
    return t.joined > 0 ? kExitOk : kExitNoClients;
}

}  // namespace lg
