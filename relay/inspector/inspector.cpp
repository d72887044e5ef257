// The inspector's endpoints, its once-a-second sampling, and its questions to the cluster.
#include "relay/inspector/inspector.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "relay/core/clock.h"
#include "relay/core/json.h"
#include "relay/core/topic.h"
#include "relay/inspector/assets.h"
#include "relay/inspector/merge.h"

namespace rt::inspector {
namespace {

constexpr std::string_view kApi = "/api/inspector/";
constexpr size_t kMaxQuery = 200;  // bytes of a channel search
constexpr uint32_t kDefaultLimit = 20;

int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Admin data is never cached, and never offered to other origins (no CORS headers).
HttpResponse json_answer(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers.emplace_back("cache-control:", "no-store");
    return r;
}

HttpResponse message(int status, std::string_view text) { return json_answer(status, message_json(text)); }

HttpResponse unauthorized(bool enabled) {
    HttpResponse r = message(401, enabled ? "Unauthorized"
                                          : "Unauthorized: the inspector is off (start the relay with --admin-token "
                                            "or --admin-role)");
    r.headers.emplace_back("www-authenticate:", "Bearer realm=\"inspector\"");
    return r;
}

// The page loads its own scripts and styles and talks to this relay only.
void page_headers(HttpResponse& r) {
    r.headers.emplace_back("content-security-policy:",
                           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    r.headers.emplace_back("x-content-type-options:", "nosniff");
    r.headers.emplace_back("referrer-policy:", "no-referrer");
    r.headers.emplace_back("cache-control:", "no-cache");
}

uint64_t number_arg(const HttpRequest& req, std::string_view name, uint64_t fallback) {
    std::string v = req.arg(name);
    if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) return fallback;
    return std::stoull(v);
}

void node_json(json::Writer& w, const NodeView& v) {
    auto key_int = [&w](const char* k, int64_t n) {
        w.Key(k);
        w.Int64(n);
    };
    auto key_str = [&w](const char* k, const std::string& s) {
        w.Key(k);
        w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    };
    char incarnation[17];
    snprintf(incarnation, sizeof incarnation, "%016" PRIx64, v.incarnation);
    const NodeReading& g = v.reading;
    w.StartObject();
    key_str("node", v.node);
    w.Key("self");
    w.Bool(v.self);
    key_str("state", v.up ? "up" : "down");
    key_str("region", v.region);
    key_str("endpoint", v.endpoint);
    key_str("incarnation", v.incarnation ? incarnation : "");
    w.Key("slot_holder");
    w.Bool(v.slot_holder);
    key_int("heard_ms_ago", v.heard_ms_ago);
    key_int("connections", g.connections);
    key_int("channels", g.channels);
    key_int("presence", g.presence_entries);
    key_int("subscriptions", g.subscriptions);
    key_int("slot_lag_bytes", g.slot_lag_bytes);
    key_int("slot_lag_ms", g.slot_lag_ms);
    key_int("change_gaps", static_cast<int64_t>(g.change_gaps));
    key_int("mesh_dropped", static_cast<int64_t>(g.mesh_dropped));
    w.EndObject();
}

}  // namespace

Inspector::Inspector(const Config& cfg, Metrics& metrics, Hub& hub, ClusterView cluster)
    : cfg_(cfg), metrics_(metrics), hub_(hub), cluster_(std::move(cluster)), auth_(cfg, hub.auth()) {}

void Inspector::mount(HttpApi& http) {
    http_ = &http;
    http.mount("/inspector", [this](const HttpRequest& req) { return page(req); });
    http.mount(std::string(kApi), [this](const HttpRequest& req) { return api(req); });
}

HttpResponse Inspector::page(const HttpRequest& req) const {
    std::string_view name = req.path;
    name.remove_prefix(std::string_view("/inspector").size());
    if (name.empty() || name == "/") name = "/index.html";
    const Asset* a = name[0] == '/' ? find_asset(name.substr(1)) : nullptr;
    if (!a || req.method != "GET") return message(404, "Not Found");
    HttpResponse r;
    r.content_type = std::string(a->content_type);
    r.body = std::string(a->body);
    page_headers(r);
    return r;
}

HttpResponse Inspector::api(const HttpRequest& req) {
    if (!auth_.admits(req.authorization, static_cast<int64_t>(time(nullptr)))) return unauthorized(auth_.enabled());
    if (req.method != "GET") return message(405, "use GET");
    std::string_view what = std::string_view(req.path).substr(kApi.size());
    if (what == "snapshot") return snapshot();
    if (what == "feed") return feed(req);
    if (what == "channels") return channels(req);
    if (what == "channel") return channel(req);
    return message(404, "Not Found");
}

std::vector<NodeView> Inspector::nodes() {
    std::vector<NodeView> views = cluster_ ? cluster_() : std::vector<NodeView>{};
    if (views.empty() || !views.front().self) {
        NodeView self;
        self.node = cfg_.node_id;
        self.self = self.up = true;
        self.region = cfg_.region;
        views.insert(views.begin(), std::move(self));
    }
    // This node's own numbers are read now, not as of its last heartbeat.
    views.front().slot_holder = metrics_.slot_holder.load() != 0;
    views.front().reading = read_node(metrics_, mono_ms());
    return views;
}

// {"node","time","nodes":[...],"seq","sample"}: the cluster now and the last second's rates.
HttpResponse Inspector::snapshot() {
    rapidjson::StringBuffer buf;
    json::Writer w(buf);
    w.StartObject();
    w.Key("node");
    w.String(cfg_.node_id.c_str(), static_cast<rapidjson::SizeType>(cfg_.node_id.size()));
    w.Key("time");
    w.Int64(wall_ms());
    w.Key("nodes");
    w.StartArray();
    for (const NodeView& v : nodes()) node_json(w, v);
    w.EndArray();
    w.Key("seq");
    w.Uint64(sampler_.last_seq());
    w.Key("sample");
    std::string last = sampler_.last();
    w.RawValue(last.data(), last.size(), rapidjson::kObjectType);
    w.EndObject();
    return json_answer(200, buf.GetString());
}

// A long poll: the samples after `after` at once, or the next one when it is taken.
HttpResponse Inspector::feed(const HttpRequest& req) {
    uint64_t after = number_arg(req, "after", 0);
    if (after > sampler_.last_seq()) after = 0;  // a page older than this relay's life starts over
    if (after < sampler_.last_seq()) return json_answer(200, sampler_.json_after(after));
    if (feed_waiting_.size() >= kMaxFeedWaiting) return message(429, "Too many feeds are waiting");
    std::pair<HttpResponse, HttpReply> later = http_->defer();
    feed_waiting_.emplace_back(after, std::move(later.second));
    return later.first;
}

HttpResponse Inspector::channels(const HttpRequest& req) {
    std::string query = req.arg("q");
    if (query.size() > kMaxQuery) return message(400, "q is longer than 200 bytes");
    uint32_t limit = static_cast<uint32_t>(std::clamp<uint64_t>(number_arg(req, "limit", kDefaultLimit), 1,
                                                                 kInspectMaxLimit));
    // Each node lists twice as many as shown, so that a channel spread over several
    // nodes is still counted where it is not among one node's busiest.
    InspectQuery q{0, InspectQuery::Kind::Channels, query, std::min(2 * limit, kInspectMaxLimit)};
    return ask(std::move(q), [query, limit](const auto& parts, const auto& missing) {
        return merge_channels(parts, missing, query, limit);
    });
}

HttpResponse Inspector::channel(const HttpRequest& req) {
    std::string name = req.arg("topic");
    if (name.empty() || name.size() > kMaxQuery) return message(400, "topic is required (at most 200 bytes)");
    std::string topic = topic::normalize(name);
    bool is_private = req.arg("private") == "true";
    InspectQuery q{0, InspectQuery::Kind::Channel, topic::channel_key(topic, is_private), 0};
    return ask(std::move(q), [topic, is_private](const auto& parts, const auto& missing) {
        return merge_channel(parts, missing, topic, is_private);
    });
}

HttpResponse Inspector::ask(InspectQuery q, Merge merge) {
    std::vector<std::string> peers;
    for (const NodeView& v : nodes())
        if (!v.self && v.up) peers.push_back(v.node);
    if (questions_.pending() >= Questions::kMaxPending) return message(429, "Too many questions are waiting");
    std::string local = hub_.inspect_local(q);
    if (peers.empty()) return json_answer(200, merge({local}, {}));
    std::pair<HttpResponse, HttpReply> later = http_->defer();
    q.id = questions_.ask(std::move(local), std::move(peers), mono_ms(),
                          [reply = std::move(later.second), merge](const std::vector<std::string>& parts,
                                                                   const std::vector<std::string>& missing) {
                              reply(json_answer(200, merge(parts, missing)));
                          });
    hub_.ask_peers(q);  // a peer that does not answer is named missing at the deadline
    return later.first;
}

void Inspector::answered(const std::string& node, InspectAnswer a) { questions_.answered(node, a.id, std::move(a.json)); }

void Inspector::tick() {
    if (!auth_.enabled()) return;
    sampler_.add(nodes(), wall_ms());
    std::vector<std::pair<uint64_t, HttpReply>> waiting;
    waiting.swap(feed_waiting_);
    for (auto& [after, reply] : waiting) reply(json_answer(200, sampler_.json_after(after)));
    questions_.expire(mono_ms());
}

}  // namespace rt::inspector
