// HTTP endpoints: broadcast, health and metrics; mounted handlers first.
#include "relay/io/http_api.h"

#include <strings.h>

#include <cctype>
#include <ctime>
#include <map>

#include "relay/core/clock.h"
#include "relay/core/json.h"
#include "relay/core/topic.h"
#include "relay/protocol/errors.h"
#include "relay/protocol/http_batch.h"

namespace rt {
namespace {

HttpResponse json_response(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers.emplace_back("access-control-allow-origin:", "*");
    return r;
}

HttpResponse message_response(int status, std::string_view message) { return json_response(status, message_json(message)); }

std::string bearer_token(const HttpRequest& req) {
    std::string_view token = bearer_credential(req.authorization);
    return token.empty() ? req.apikey : std::string(token);
}

// The media type of a Content-Type header, without its parameters, in lower case.
std::string media_type(std::string_view content_type) {
    std::string type(content_type.substr(0, content_type.find(';')));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    for (char& c : type) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    return type;
}

}  // namespace

std::string message_json(std::string_view message) {
    std::string body = "{\"message\":";
    json::append_string(body, message);
    body.push_back('}');
    return body;
}

// The scheme is case-insensitive (RFC 7235), as Supabase reads it.
std::string_view bearer_credential(std::string_view authorization) {
    if (authorization.size() > 7 && authorization[6] == ' ' && strncasecmp(authorization.data(), "bearer", 6) == 0)
        return authorization.substr(7);
    return {};
}

HttpApi::HttpApi(const Config& cfg, Metrics& metrics, Hub& hub, std::function<std::string()> peers_json)
    : cfg_(cfg), metrics_(metrics), hub_(hub), peers_json_(std::move(peers_json)) {}

HttpResponse HttpApi::unavailable() { return message_response(503, errors::kShuttingDown); }

HttpResponse HttpApi::handle(const HttpRequest& req) {
    for (const auto& [prefix, handler] : mounts_)
        if (req.path.rfind(prefix, 0) == 0) return handler(req);
    return builtin(req);
}

std::pair<HttpResponse, HttpReply> HttpApi::defer() {
    HttpResponse later;
    later.deferred = next_deferred_++;
    return {later, [this, id = later.deferred](HttpResponse answer) {
                if (answer_later_) answer_later_(id, std::move(answer));
            }};
}

HttpResponse HttpApi::builtin(const HttpRequest& req) {
    if (req.method == "OPTIONS") {
        HttpResponse r = json_response(204, "");
        r.headers.emplace_back("access-control-allow-methods:", "GET, POST, OPTIONS");
        r.headers.emplace_back("access-control-allow-headers:", "authorization, apikey, content-type, x-client-info");
        return r;
    }
    // realtime-js derives its REST URL from the socket endpoint: /socket -> /api/broadcast,
    // Supabase's hosted /realtime/v1 -> /realtime/v1/api/broadcast.
    std::string_view path = req.path;
    if (path.rfind("/realtime/v1/", 0) == 0) path.remove_prefix(12);
    if (path == "/api/broadcast") {
        if (req.method != "POST") return message_response(405, "use POST");
        return broadcast(req);
    }
    // realtime-js httpSend(): /api/broadcast/<sub-topic>/events/<event>, the body is the payload.
    if (path.rfind("/api/broadcast/", 0) == 0) {
        std::string_view rest = path.substr(15);
        size_t marker = rest.find("/events/");
        if (req.method != "POST") return message_response(405, "use POST");
        if (marker == std::string_view::npos || marker == 0 || marker + 8 >= rest.size())
            return message_response(404, "Not Found");
        return broadcast_event(req, rest.substr(0, marker), rest.substr(marker + 8));
    }
    if (req.path == "/api/health" || req.path == "/health") return health();
    if (req.path == "/metrics") {
        HttpResponse r;
        r.content_type = "text/plain; version=0.0.4";
        r.body = metrics_.render();
        return r;
    }
    return message_response(404, "Not Found");
}

std::optional<HttpResponse> HttpApi::refuse(const HttpRequest& req, Claims& caller) {
    JwtResult auth = hub_.auth().verify(bearer_token(req), static_cast<int64_t>(time(nullptr)));
    if (!auth.ok) return message_response(401, "Unauthorized");
    caller = std::move(auth.claims);
    return std::nullopt;
}

// Supabase's rate check of the REST API, per token here (as the WebSocket limits are per
// connection): a batch that would take the token past --max-events-per-second is refused
// whole.
std::optional<HttpResponse> HttpApi::over_rate(const HttpRequest& req, size_t messages) {
    int64_t now = mono_ms();
    if (rates_.size() > kMaxRateEntries) {
        for (auto it = rates_.begin(); it != rates_.end();) it = it->second.idle(now) ? rates_.erase(it) : ++it;
    }
    auto it = rates_.try_emplace(bearer_token(req), cfg_.limits.max_events_per_second).first;
    switch (it->second.allow_batch(now, static_cast<int64_t>(messages))) {
        case RateLimiter::Batch::Within: return std::nullopt;
        case RateLimiter::Batch::TooMany: break;
        case RateLimiter::Batch::Exhausted:
            metrics_.rate_limited++;
            return message_response(429, errors::kHttpRateExceeded);
    }
    metrics_.rate_limited++;
    return message_response(429, messages > 1 ? errors::kHttpBatchTooLarge : errors::kHttpRateExceeded);
}

HttpResponse HttpApi::broadcast(const HttpRequest& req) {
    Claims caller;
    if (auto refused = refuse(req, caller)) return *refused;
    json::Document doc;
    std::string error;
    if (!json::parse(doc, req.body, &error)) return message_response(422, "malformed JSON: " + error);
    http_batch::Batch batch = http_batch::read(req.body, cfg_.limits.max_payload_bytes);
    if (!batch.errors_json.empty()) return json_response(422, std::move(batch.errors_json));
    if (auto limited = over_rate(req, batch.messages.size())) return *limited;
    publish_batch(req, caller, std::move(batch.messages));
    return json_response(202, "");
}

// Public messages go out at once. Private ones are grouped by topic, and each topic's go
// out only if the caller may write broadcasts there (one check per topic); the others are
// dropped and the answer is 202 all the same, as Supabase's.
void HttpApi::publish_batch(const HttpRequest& req, const Claims& caller, std::vector<BroadcastMsg> batch) {
    std::map<std::string, std::vector<BroadcastMsg>> private_by_topic;
    for (BroadcastMsg& b : batch) {
        if (b.is_private)
            private_by_topic[b.topic].push_back(std::move(b));
        else
            hub_.publish_broadcast(b);
    }
    for (auto& [topic, msgs] : private_by_topic) {
        hub_.authorize_http_broadcast(caller, req.headers_json, std::string(topic::sub_topic(topic)),
                                      [this, msgs = std::move(msgs)](const AccessResult& r) {
                                          if (!r.policies.broadcast_write.value_or(false)) return;
                                          for (const BroadcastMsg& b : msgs) hub_.publish_broadcast(b);
                                      });
    }
}

// realtime-js httpSend(): the body is the payload, JSON (also without a Content-Type) or
// bytes (application/octet-stream, an empty body too).
HttpResponse HttpApi::broadcast_event(const HttpRequest& req, std::string_view sub_topic, std::string_view event) {
    Claims caller;
    if (auto refused = refuse(req, caller)) return *refused;
    std::string type = media_type(req.content_type);
    if (!type.empty() && type != "application/json" && type != "application/octet-stream")
        return json_response(415, "{\"error\":\"" + std::string(errors::kUnsupportedMediaType) + "\"}");
    BroadcastMsg b;
    b.topic = topic::of(sub_topic);
    b.event = std::string(event);
    b.is_private = req.private_query;
    if (type == "application/octet-stream") {
        b.json_payload = false;  // binary: only vsn 2.0.0 members can receive it
        b.payload = req.body;
    } else {
        json::Document doc;
        std::string error;
        if (!req.body.empty() && !json::parse(doc, req.body, &error))
            return message_response(422, "malformed JSON: " + error);
        b.payload = req.body.empty() ? "{}" : json::compact(req.body);
    }
    if (static_cast<int64_t>(b.payload.size()) > cfg_.limits.max_payload_bytes)
        return json_response(422, "{\"errors\":{\"payload\":[\"" + std::string(errors::kHttpPayloadTooLarge) + "\"]}}");
    if (auto limited = over_rate(req, 1)) return *limited;
    if (!b.is_private) {
        hub_.publish_broadcast(b);
        return json_response(202, "");
    }
    // A private message is answered once the caller's write check is: 202, or Supabase's
    // refusal (403 Unauthorized when the policies do not let it write).
    std::pair<HttpResponse, HttpReply> later = defer();
    hub_.authorize_http_broadcast(caller, req.headers_json, std::string(sub_topic),
                                  [this, reply = std::move(later.second), b = std::move(b)](const AccessResult& r) {
                                      HttpResponse answer = private_answer(r);
                                      if (answer.status == 202) hub_.publish_broadcast(b);
                                      reply(std::move(answer));
                                  });
    return later.first;
}

HttpResponse HttpApi::private_answer(const AccessResult& r) {
    switch (r.failure) {
        case AccessResult::Failure::None:
            return r.policies.broadcast_write.value_or(false) ? json_response(202, "")
                                                               : message_response(403, "Unauthorized");
        case AccessResult::Failure::Policy:
            return message_response(422, r.error_code == "23514" ? "Missing messages partition" : "RLS policy error");
        case AccessResult::Failure::Timeout: return message_response(422, "Query canceled");
        case AccessResult::Failure::Unreachable: return message_response(422, "Tenant database unavailable");
        case AccessResult::Failure::Failed: break;
    }
    return message_response(500, "Unable to authorize broadcast");
}

HttpResponse HttpApi::health() {
    std::string body = "{\"node_id\":";
    json::append_string(body, cfg_.node_id);
    body += ",\"status\":\"ok\",\"slot_holder\":";
    body += metrics_.slot_holder.load() ? "true" : "false";
    body += ",\"region\":";
    json::append_string(body, cfg_.region);
    body += ",\"connections\":" + std::to_string(hub_.connection_count());
    body += ",\"channels\":" + std::to_string(hub_.channel_count());
    body += ",\"peers\":";
    body += peers_json_ ? peers_json_() : "[]";
    body.push_back('}');
    return json_response(200, body);
}

}  // namespace rt
