// Owns: run setup, phase waits and teardown (see runner.h).
#include "bench/loadgen/runner.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include "bench/loadgen/clock.h"
#include "bench/loadgen/jwt.h"
#include "bench/loadgen/nchan_proto.h"
#include "bench/loadgen/phoenix_proto.h"
#include "bench/loadgen/signals.h"
#include "bench/loadgen/ws_client.h"

namespace lg {

Runner::~Runner() { stop(); }

bool Runner::prepare(std::string* err) {
    WsClient::set_max_message(opt.max_message);
    if (!opt.token.empty()) ctx.token = opt.token;
    else if (!opt.jwt_secret.empty()) ctx.token = make_jwt_hs256(opt.jwt_secret, opt.role, opt.token_ttl);

    if (!opt.channel.empty()) {
        ctx.channel_names.push_back(opt.channel);
    } else {
        for (int i = 0; i < opt.channels; i++) ctx.channel_names.push_back(opt.channel_prefix + std::to_string(i));
    }
    ctx.joined_per_channel.reset(new std::atomic<int>[ctx.channel_names.size()]);
    for (size_t i = 0; i < ctx.channel_names.size(); i++) ctx.joined_per_channel[i].store(0);

    // --url: one ws:// URL, or several separated by commas (clients go round robin)
    size_t from = 0;
    while (from <= opt.url.size()) {
        size_t comma = opt.url.find(',', from);
        if (comma == std::string::npos) comma = opt.url.size();
        std::string one = opt.url.substr(from, comma - from);
        from = comma + 1;
        if (one.empty()) continue;
        Url sub;
        if (!parse_url(one, &sub, err)) return false;
        if (sub.scheme != "ws") {
            *err = "--url must be ws://";
            return false;
        }
        RunContext::SubEndpoint ep;
        if (!resolve_ipv4(sub.host, sub.port, &ep.addr, err)) return false;
        ep.host = sub.host_header();
        if (ctx.phoenix()) ep.targets.push_back(phx::socket_target(sub.target, ctx.token, opt.vsn));
        else
            for (auto& c : ctx.channel_names) ep.targets.push_back(nchan::expand(sub.target, c));
        ctx.sub_endpoints.push_back(std::move(ep));
    }
    if (ctx.sub_endpoints.empty()) {
        *err = "--url is empty";
        return false;
    }
    ctx.sub_addr = ctx.sub_endpoints[0].addr;
    ctx.sub_host = ctx.sub_endpoints[0].host;
    ctx.sub_targets = ctx.sub_endpoints[0].targets;
    if (ctx.phoenix()) {
        ctx.pub_ws_target = ctx.sub_targets[0];
        ctx.pub_ws_addr = ctx.sub_addr;
        ctx.pub_ws_host = ctx.sub_host;
        std::string pg = opt.scenario == Scenario::kLatencyWatch ? opt.pg_changes : "[]";
        ctx.join_payload_sub = phx::join_payload(false, false, pg, opt.private_channels);
        if (pg.find("{channel}") != std::string::npos) {
            for (size_t c = 0; c < ctx.channel_names.size(); c++) {
                std::string p = pg;
                for (size_t at; (at = p.find("{channel}")) != std::string::npos;)
                    p.replace(at, 9, std::to_string(c));
                ctx.join_payloads_sub.push_back(phx::join_payload(false, false, p, opt.private_channels));
            }
        }
        ctx.join_payload_pub = phx::join_payload(false, opt.publish_ack, "[]");
        // --pub-url ws://...: WebSocket publishers on another server than the subscribers
        if (opt.publish_via == PublishVia::kWs && opt.pub_url.rfind("ws://", 0) == 0) {
            Url pub;
            if (!parse_url(opt.pub_url, &pub, err)) return false;
            if (!resolve_ipv4(pub.host, pub.port, &ctx.pub_ws_addr, err)) return false;
            ctx.pub_ws_host = pub.host_header();
            ctx.pub_ws_target = phx::socket_target(pub.target, ctx.token, opt.vsn);
        }
    }

    bool needs_http_pub = opt.scenario == Scenario::kFanout &&
                          (!ctx.phoenix() || opt.publish_via == PublishVia::kHttp);
    if (needs_http_pub) {
        Url pub;
        if (!parse_url(opt.pub_url, &pub, err)) return false;
        if (pub.scheme != "http") {
            *err = "--pub-url must be http://";
            return false;
        }
        if (!resolve_ipv4(pub.host, pub.port, &ctx.pub_addr, err)) return false;
        ctx.pub_host = pub.host_header();
        if (ctx.phoenix()) ctx.pub_targets.push_back(pub.target);
        else
            for (auto& c : ctx.channel_names) ctx.pub_targets.push_back(nchan::expand(pub.target, c));
    }

    if (!ctx.sources.parse(opt.source_addrs, err)) return false;
    ctx.sources.resolve_auto(size_t(opt.clients) + size_t(opt.publishers), ctx.sub_addr);

    double per_channel = std::max(1.0, double(opt.clients) / double(ctx.channel_names.size()));
    ctx.rate = opt.deliveries_rate > 0 ? opt.deliveries_rate / per_channel : opt.rate;
    ctx.max_outstanding = opt.max_outstanding > 0 ? opt.max_outstanding
                                                  : std::max<int64_t>(100, 2 * int64_t(opt.clients));
    return true;
}

void Runner::plan(int clients, int publishers) {
    clients_ = clients;
    int nthreads = std::max(1, opt.threads);
    for (int i = 0; i < nthreads; i++) ctx.live.push_back(std::make_unique<LiveCounters>());
    for (int i = 0; i < nthreads; i++) workers_.push_back(std::make_unique<Worker>(i, &ctx, nthreads));
    int nch = int(ctx.channel_names.size());
    for (int i = 0; i < clients; i++) workers_[size_t(i % nthreads)]->add_client(i, i % nch);
    publishers = std::min(publishers, nch);
    ctx.publishers_total = publishers;
    for (int p = 0; p < publishers; p++) {
        std::vector<int> chans;
        for (int c = p; c < nch; c += publishers) chans.push_back(c);
        // publishers take source addresses after the clients' indexes
        workers_[size_t(p % nthreads)]->add_publisher(clients + p, std::move(chans));
    }
}

void Runner::start() {
    last_progress_ns_ = mono_ns();
    for (auto& w : workers_) w->start();
}

Totals Runner::totals() const {
    Totals t;
    for (auto& c : ctx.live) t.add(*c);
    return t;
}

bool Runner::interrupted() const { return g_interrupted.load(); }

double Runner::connect_deadline_s() const {
    // every attempt has its own --connect-timeout; attempts run --max-pending at a time
    double waves = double(clients_) / double(std::max(1, opt.max_pending * std::max(1, opt.threads)));
    double paced = opt.connect_rate > 0 ? double(clients_) / opt.connect_rate : 0;
    return opt.connect_timeout * (1 + std::min(waves, 20.0)) + paced + 5;
}

void Runner::maybe_progress(const char* phase) {
    if (!opt.progress) return;
    int64_t now = mono_ns();
    if (now - last_progress_ns_ < kNsPerSec) return;
    Totals t = totals();
    double dt = double(now - last_progress_ns_) / 1e9;
    std::fprintf(stderr,
                 "[%s] joined %llu/%d failed %llu disc %llu | deliveries/s %.0f published/s %.0f "
                 "pub_errors %llu | hb %llu/%llu | pg %llu\n",
                 phase, (unsigned long long)(t.joined - t.disconnects), clients_,
                 (unsigned long long)t.failed, (unsigned long long)t.disconnects,
                 double(t.deliveries - last_progress_.deliveries) / dt,
                 double(t.published - last_progress_.published) / dt,
                 (unsigned long long)t.publish_errors, (unsigned long long)t.heartbeat_replies,
                 (unsigned long long)t.heartbeats_sent, (unsigned long long)t.pg_records);
    last_progress_ = t;
    last_progress_ns_ = now;
}

bool Runner::wait_for(const std::function<bool(const Totals&)>& done, double timeout_s, const char* phase) {
    int64_t deadline = mono_ns() + sec_to_ns(timeout_s);
    while (!interrupted()) {
        if (done(totals())) return true;
        if (mono_ns() >= deadline) return false;
        maybe_progress(phase);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

bool Runner::sleep_until(int64_t t_ns, const char* phase) {
    while (!interrupted()) {
        int64_t left = t_ns - mono_ns();
        if (left <= 0) return true;
        maybe_progress(phase);
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(left, 20 * 1000 * 1000)));
    }
    return false;
}

void Runner::write_ready_file() const {
    std::fprintf(stderr, "rt-loadgen: READY\n");
    if (opt.ready_file.empty()) return;
    std::string tmp = opt.ready_file + ".tmp";
    {
        std::ofstream f(tmp);
        f << getpid() << "\n";
    }
    std::rename(tmp.c_str(), opt.ready_file.c_str());
}

void Runner::stop() {
    if (stopped_) return;
    stopped_ = true;
    ctx.stop.store(true);
    for (auto& w : workers_) w->join();
    for (auto& w : workers_) merged.merge(w->results());
    std::sort(merged.ids.begin(), merged.ids.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
}

}  // namespace lg
