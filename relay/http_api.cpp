// HTTP endpoints: broadcast, health and metrics.
#include "relay/http_api.h"

#include <ctime>

#include "relay/ids.h"
#include "relay/jwt.h"
#include "relay/json.h"

namespace rt {
namespace {

HttpResponse json_response(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers.emplace_back("access-control-allow-origin:", "*");
    return r;
}

HttpResponse message_response(int status, std::string_view message) {
    std::string body = "{\"message\":";
    json::append_string(body, message);
    body.push_back('}');
    return json_response(status, body);
}

std::string bearer_token(const HttpRequest& req) {
    std::string_view auth = req.authorization;
    if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer "))
        return std::string(auth.substr(7));
    return req.apikey;
}

}  // namespace

HttpApi::HttpApi(const Config& cfg, Metrics& metrics, Hub& hub, ClusterPort* cluster,
                 std::function<std::string()> peers_json)
    : cfg_(cfg), metrics_(metrics), hub_(hub), cluster_(cluster), peers_json_(std::move(peers_json)) {}

HttpResponse HttpApi::unavailable() { return message_response(503, "Server is shutting down"); }

HttpResponse HttpApi::handle(const HttpRequest& req) {
    if (req.method == "OPTIONS") {
        HttpResponse r = json_response(204, "");
        r.headers.emplace_back("access-control-allow-methods:", "GET, POST, OPTIONS");
        r.headers.emplace_back("access-control-allow-headers:", "authorization, apikey, content-type, x-client-info");
        return r;
    }
    // realtime-js derives its REST URL from the socket endpoint: /socket -> /api/broadcast,
    // Supabase's hosted /realtime/v1 -> /realtime/v1/api/broadcast.
    if (req.path == "/api/broadcast" || req.path == "/realtime/v1/api/broadcast") {
        if (req.method != "POST") return message_response(405, "use POST");
        return broadcast(req);
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

HttpResponse HttpApi::broadcast(const HttpRequest& req) {
    JwtResult auth = JwtVerifier(cfg_.jwt_secret).verify(bearer_token(req), static_cast<int64_t>(time(nullptr)));
    if (!auth.ok) return message_response(401, "Unauthorized");
    if (req.too_large)
        return message_response(413, "Payload too large: the limit is " + std::to_string(cfg_.limits.max_payload_bytes) +
                                         " bytes");

    json::Document doc;
    std::string error;
    if (!json::parse(doc, req.body, &error)) return message_response(422, "malformed JSON: " + error);
    const json::Value* messages = json::member(doc, "messages");
    if (!messages || !messages->IsArray() || messages->Empty())
        return message_response(422, "the body must be {\"messages\":[{\"topic\",\"event\",\"payload\"}]}");

    std::vector<BroadcastMsg> batch;
    for (const json::Value& m : messages->GetArray()) {
        std::string_view topic = json::string_or(json::member(m, "topic"), "");
        std::string_view event = json::string_or(json::member(m, "event"), "");
        const json::Value* payload = json::member(m, "payload");
        if (topic.empty() || event.empty())
            return message_response(422, "each message needs a non-empty topic and event");
        BroadcastMsg b;
        b.topic = topic.rfind("realtime:", 0) == 0 ? std::string(topic) : "realtime:" + std::string(topic);
        b.event = std::string(event);
        b.payload = payload ? json::stringify(*payload) : "{}";
        b.is_private = json::bool_or(json::member(m, "private"), false);
        b.meta_json = "{\"id\":\"" + random_uuid() + "\"}";
        batch.push_back(std::move(b));
    }
    for (const BroadcastMsg& b : batch) {
        if (b.is_private) continue;  // no private channel can be joined yet
        hub_.deliver_broadcast(b);
        if (cluster_) cluster_->publish_broadcast(b);
    }
    return json_response(202, "");
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
