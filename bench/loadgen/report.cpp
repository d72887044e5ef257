// Owns: JSON and table output (see report.h).
#include "bench/loadgen/report.h"

#include <cstdio>
#include <ctime>
#include <fstream>

namespace lg {

std::string Report::num(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

Report::Report(const Options& o, const RunContext& ctx, const NofileLimits& limits) : opt_(o) {
    w_.begin_object();
    w_.key("tool").value("rt-loadgen");
    w_.key("schema").value(1);
    w_.key("scenario").value(scenario_name(o.scenario));
    w_.key("protocol").value(protocol_name(o.protocol));
    if (o.protocol == Protocol::kPhoenix) w_.key("vsn").value(o.vsn == phx::Vsn::k2 ? "2.0.0" : "1.0.0");
    else w_.key("vsn").null();
    w_.key("started_at").value(int64_t(std::time(nullptr)));

    w_.key("config").begin_object();
    w_.key("url").value(o.url);
    w_.key("pub_url").value(o.pub_url);
    w_.key("clients").value(o.clients);
    w_.key("channels").value(int64_t(ctx.channel_names.size()));
    w_.key("threads").value(o.threads);
    w_.key("publishers").value(ctx.publishers_total);
    w_.key("publish_via").value(o.protocol == Protocol::kNchan || o.publish_via == PublishVia::kHttp ? "http" : "ws");
    w_.key("binary").value(o.binary);
    w_.key("publish_ack").value(o.publish_ack);
    w_.key("rate").value(ctx.rate);
    w_.key("max_rate_mode").value(ctx.rate <= 0);
    w_.key("max_outstanding").value(ctx.max_outstanding);
    w_.key("pipeline").value(o.pipeline);
    w_.key("http_batch").value(o.http_batch);
    w_.key("payload_size").value(uint64_t(o.payload_size));
    w_.key("duration_s").value(o.duration);
    w_.key("warmup_s").value(o.warmup);
    w_.key("drain_s").value(o.drain);
    w_.key("heartbeat_s").value(o.heartbeat);
    w_.key("connect_timeout_s").value(o.connect_timeout);
    w_.key("max_pending").value(o.max_pending);
    w_.key("connect_rate").value(o.connect_rate);
    w_.key("source_addrs").value(ctx.sources.describe());
    w_.key("server_pids").begin_array();
    for (int p : o.server_pids) w_.value(p);
    w_.end_array();
    w_.end_object();

    w_.key("limits").begin_object();
    w_.key("nofile_soft").value(int64_t(limits.soft));
    w_.key("nofile_hard").value(int64_t(limits.hard));
    w_.end_object();

    section(std::string("rt-loadgen ") + scenario_name(o.scenario) + " (" + protocol_name(o.protocol) + ")");
    row("clients / channels", std::to_string(o.clients) + " / " + std::to_string(ctx.channel_names.size()));
    row("threads", std::to_string(o.threads));
}

void Report::section(const std::string& title) { rows_.emplace_back("", title); }

void Report::row(const std::string& label, const std::string& value) { rows_.emplace_back(label, value); }

void Report::connections(const Totals& t, int target) {
    uint64_t open = t.joined - t.disconnects;
    w_.key("connections").begin_object();
    w_.key("target").value(target);
    w_.key("started").value(t.started);
    w_.key("connected").value(t.connected);
    w_.key("joined").value(t.joined);
    w_.key("failed").value(t.failed);
    w_.key("connect_errors").value(t.connect_errors);
    w_.key("handshake_errors").value(t.handshake_errors);
    w_.key("join_errors").value(t.join_errors);
    w_.key("timeouts").value(t.timeouts);
    w_.key("disconnects").value(t.disconnects);
    w_.key("open_at_end").value(open);
    w_.end_object();
    section("connections");
    row("joined / target", std::to_string(t.joined) + " / " + std::to_string(target));
    row("failed (connect/handshake/join/timeout)",
        std::to_string(t.failed) + " (" + std::to_string(t.connect_errors) + "/" +
            std::to_string(t.handshake_errors) + "/" + std::to_string(t.join_errors) + "/" +
            std::to_string(t.timeouts) + ")");
    row("disconnects after join", std::to_string(t.disconnects));
}

void write_latency_object(json::Writer& w, const Histogram& h) {
    auto us = [](int64_t ns) { return double(ns) / 1000.0; };
    w.begin_object();
    w.key("count").value(h.count());
    w.key("min").value(us(h.min()));
    w.key("mean").value(h.mean() / 1000.0);
    w.key("p50").value(us(h.quantile(0.50)));
    w.key("p90").value(us(h.quantile(0.90)));
    w.key("p99").value(us(h.quantile(0.99)));
    w.key("p999").value(us(h.quantile(0.999)));
    w.key("max").value(us(h.max()));
    w.end_object();
}

void Report::latency(const char* key, const char* label, const Histogram& h) {
    w_.key(key);
    write_latency_object(w_, h);
    if (h.count() == 0) {
        row(label, "no samples");
        return;
    }
    auto ms = [](int64_t ns) { return num(double(ns) / 1e6, 3); };
    row(label, "p50 " + ms(h.quantile(0.5)) + "  p99 " + ms(h.quantile(0.99)) + "  p999 " +
                   ms(h.quantile(0.999)) + "  max " + ms(h.max()) + " ms  (n=" + std::to_string(h.count()) + ")");
}

void Report::errors(const std::map<std::string, uint64_t>& errors) {
    w_.key("errors").begin_object();
    for (auto& [k, v] : errors) w_.key(k).value(v);
    w_.end_object();
    if (errors.empty()) return;
    section("errors");
    for (auto& [k, v] : errors) row(std::to_string(v) + "x", k);
}

void Report::emit(bool interrupted, bool ok) {
    w_.key("warnings").begin_array();
    for (auto& s : warnings_) w_.value(s);
    w_.end_array();
    w_.key("interrupted").value(interrupted);
    w_.key("ok").value(ok);
    w_.end_object();
    if (!opt_.quiet) {
        size_t width = 0;
        for (auto& [l, v] : rows_) width = std::max(width, l.size());
        for (auto& [l, v] : rows_) {
            if (l.empty()) std::fprintf(stderr, "== %s\n", v.c_str());
            else std::fprintf(stderr, "  %-*s  %s\n", int(width), l.c_str(), v.c_str());
        }
        for (auto& s : warnings_) std::fprintf(stderr, "WARNING: %s\n", s.c_str());
        if (interrupted) std::fprintf(stderr, "(interrupted)\n");
    }
    std::fputs(w_.str().c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (!opt_.json_out.empty()) {
        std::ofstream f(opt_.json_out);
        f << w_.str() << "\n";
    }
}

}  // namespace lg
