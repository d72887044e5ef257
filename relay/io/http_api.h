// The HTTP endpoints on the relay's port: POST /api/broadcast (Supabase's body and
// auth), GET /api/health, GET /metrics. Runs on the loop thread; no I/O of its own.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "relay/core/config.h"
#include "relay/hub/hub.h"
#include "relay/core/metrics.h"

namespace rt {

struct HttpRequest {
    std::string method;
    std::string path;
    std::string authorization;  // the Authorization header
    std::string apikey;         // the apikey header
    std::string content_type;
    bool private_query = false;  // ?private=true
    std::string body;  // within --max-payload-bytes (checked from Content-Length)
};

struct HttpResponse {
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

private:
    HttpResponse broadcast(const HttpRequest& req);
    HttpResponse broadcast_event(const HttpRequest& req, std::string_view sub_topic, std::string_view event);
    // The authorization check common to both broadcast endpoints; empty when fine.
    std::optional<HttpResponse> refuse(const HttpRequest& req);
    void publish(const std::vector<BroadcastMsg>& batch);
    HttpResponse health();

    const Config& cfg_;
    Metrics& metrics_;
    Hub& hub_;
    std::function<std::string()> peers_json_;
};

}  // namespace rt
