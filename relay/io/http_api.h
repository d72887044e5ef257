// The HTTP endpoints on the relay's port: POST /api/broadcast (Supabase's body, auth,
// errors and rate limit; private messages need the caller's write permission, checked on
// the database through the hub), POST /api/broadcast/<topic>/events/<event>,
// GET /api/health, GET /metrics, and the handlers other rooms mount on a path prefix (the
// inspector's). Runs on the loop thread; no I/O of its own. An answer that waits (for the
// database, the cluster, a feed's next second) is deferred (HttpResponse::deferred).
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
    std::vector<std::pair<std::string, std::string>> args;  // the query's arguments, decoded
    std::string body;  // within --max-frame-bytes (checked from Content-Length)

    // The first query argument called name ("" when absent).
    std::string arg(std::string_view name) const {
        for (const auto& [n, v] : args)
            if (n == name) return v;
        return {};
    }
};

struct HttpResponse {
    uint64_t deferred = 0;  // not 0: the answer comes later, through HttpApi's answer_later
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

// {"message":<message>}, the body of every error and notice the HTTP endpoints answer.
std::string message_json(std::string_view message);
// The credential of an "Authorization: Bearer <credential>" header ("" when it is not one).
std::string_view bearer_credential(std::string_view authorization);

// A deferred answer, given later on the loop thread (once; nothing if the client is gone).
using HttpReply = std::function<void(HttpResponse)>;
// A handler mounted on a path prefix.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpApi {
public:
    // peers_json: the current peer list as a JSON array (the cluster's view).
    HttpApi(const Config& cfg, Metrics& metrics, Hub& hub, std::function<std::string()> peers_json);

    // Requests whose path starts with prefix go to handler (before the built-in endpoints).
    void mount(std::string prefix, HttpHandler handler) { mounts_.emplace_back(std::move(prefix), std::move(handler)); }
    HttpResponse handle(const HttpRequest& req);
    // For a handler that answers later: the response to return now (deferred), and the
    // reply that answers the request.
    std::pair<HttpResponse, HttpReply> defer();
    static HttpResponse unavailable();
    // Where the answers of deferred requests go (the server, by HttpResponse::deferred).
    void set_answer_later(std::function<void(uint64_t, HttpResponse)> answer) { answer_later_ = std::move(answer); }

private:
    HttpResponse builtin(const HttpRequest& req);
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
    std::vector<std::pair<std::string, HttpHandler>> mounts_;
};

}  // namespace rt
