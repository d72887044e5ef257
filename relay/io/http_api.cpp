// HTTP endpoints: broadcast, health and metrics.
#include "relay/io/http_api.h"

#include <ctime>

#include "relay/core/ids.h"
#include "relay/core/json.h"
#include "relay/core/topic.h"
#include "relay/protocol/errors.h"

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

HttpApi::HttpApi(const Config& cfg, Metrics& metrics, Hub& hub, std::function<std::string()> peers_json)
    : cfg_(cfg), metrics_(metrics), hub_(hub), peers_json_(std::move(peers_json)) {}

HttpResponse HttpApi::unavailable() { return message_response(503, errors::kShuttingDown); }

HttpResponse HttpApi::handle(const HttpRequest& req) {
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

std::optional<HttpResponse> HttpApi::refuse(const HttpRequest& req) {
    JwtResult auth = hub_.auth().verify(bearer_token(req), static_cast<int64_t>(time(nullptr)));
    if (!auth.ok) return message_response(401, "Unauthorized");
    return std::nullopt;
}

HttpResponse HttpApi::broadcast(const HttpRequest& req) {
    if (auto refused = refuse(req)) return *refused;
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
        b.topic = topic::normalize(topic);
        b.event = std::string(event);
        b.payload = payload ? json::stringify(*payload) : "{}";
        b.is_private = json::bool_or(json::member(m, "private"), false);
        batch.push_back(std::move(b));
    }
    publish(batch);
    return json_response(202, "");
}

HttpResponse HttpApi::broadcast_event(const HttpRequest& req, std::string_view sub_topic, std::string_view event) {
    if (auto refused = refuse(req)) return *refused;
    BroadcastMsg b;
    b.topic = topic::of(sub_topic);
    b.event = std::string(event);
    b.is_private = req.private_query;
    if (req.content_type.rfind("application/octet-stream", 0) == 0) {
        b.json_payload = false;  // binary: only vsn 2.0.0 members can receive it
        b.payload = req.body;
    } else {
        json::Document doc;
        std::string error;
        if (!json::parse(doc, req.body, &error)) return message_response(422, "malformed JSON: " + error);
        b.payload = req.body;
    }
    publish({std::move(b)});
    return json_response(202, "");
}

void HttpApi::publish(const std::vector<BroadcastMsg>& batch) {
    for (BroadcastMsg b : batch) {
        b.meta_json = "{\"id\":\"" + random_uuid() + "\"}";  // Supabase gives REST messages an id
        hub_.publish_broadcast(b);
    }
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
