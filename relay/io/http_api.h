// The HTTP endpoints on the relay's port: POST /api/broadcast (Supabase's body, auth,
// errors and rate limit; private messages need the caller's write permission, checked on
// the database through the hub), POST /api/broadcast/<topic>/events/<event>,
// GET /api/health, GET /metrics. Runs on the loop thread; no I/O of its own. An answer
// that waits for the database is deferred (HttpResponse::deferred).
#pragma once

#include <functional>
#include <optional>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

#include "relay/core/config.h"
#include "relay/hub/hub.h"
#include "relay/core/metrics.h"
#include "relay/protocol/rate_limit.h"

namespace rt {

struct HttpRequest {
    std::string method;
    std::string path;
    std::string authorization;  // the Authorization header
    std::string apikey;         // the apikey header
    std::string content_type;
    bool private_query = false;  // ?private=true
    std::string headers_json = "{}";  // its --policy-headers, for private broadcasts' request.headers
    std::string body;  // within --max-frame-bytes (checked from Content-Length)
};

struct HttpResponse {
    uint64_t deferred = 0;  // not 0: the answer comes later, through HttpApi's answer_later
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

class HttpApi {
public:
    // peers_json: the current peer list as a JSON array (the cluster's view).
    HttpApi(const Config& cfg, Metrics& metrics, Hub& hub, std::function<std::string()> peers_json);

    HttpResponse handle(const HttpRequest& req);
    static HttpResponse unavailable();
    // Where the answers of deferred requests go (the server, by HttpResponse::deferred).
    void set_answer_later(std::function<void(uint64_t, HttpResponse)> answer) { answer_later_ = std::move(answer); }

private:
    HttpResponse broadcast(const HttpRequest& req);
    HttpResponse broadcast_event(const HttpRequest& req, std::string_view sub_topic, std::string_view event);
    // The authorization check common to both broadcast endpoints; empty when fine
    // (caller: the token's claims).
    std::optional<HttpResponse> refuse(const HttpRequest& req, Claims& caller);
    // The 429 for messages more than the request's token may send now; empty when fine.
    std::optional<HttpResponse> over_rate(const HttpRequest& req, size_t messages);
    void publish_batch(const HttpRequest& req, const Claims& caller, std::vector<BroadcastMsg> batch);
    // The single endpoint's answer to a private message's write check (Supabase's).
    static HttpResponse private_answer(const AccessResult& r);
    HttpResponse health();

    static constexpr size_t kMaxRateEntries = 4096;  // past it, idle tokens' limiters go

    const Config& cfg_;
    Metrics& metrics_;
    Hub& hub_;
    std::function<std::string()> peers_json_;
    std::function<void(uint64_t, HttpResponse)> answer_later_;
    uint64_t next_deferred_ = 1;
    std::unordered_map<std::string, RateLimiter> rates_;  // per token: events per second
};

}  // namespace rt
