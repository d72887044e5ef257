// HTTP endpoints: broadcast, health and metrics.
#include "relay/io/http_api.h"

#include <ctime>
#include <map>

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

std::optional<HttpResponse> HttpApi::refuse(const HttpRequest& req, Claims& caller) {
    JwtResult auth = hub_.auth().verify(bearer_token(req), static_cast<int64_t>(time(nullptr)));
    if (!auth.ok) return message_response(401, "Unauthorized");
    caller = std::move(auth.claims);
    return std::nullopt;
}

HttpResponse HttpApi::broadcast(const HttpRequest& req) {
    Claims caller;
    if (auto refused = refuse(req, caller)) return *refused;
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
    publish_batch(req, caller, std::move(batch));
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
            publish(std::move(b));
    }
    for (auto& [topic, msgs] : private_by_topic) {
        hub_.authorize_http_broadcast(caller, req.headers_json, std::string(topic::sub_topic(topic)),
                                      [this, msgs = std::move(msgs)](const AccessResult& r) {
                                          if (!r.policies.broadcast_write.value_or(false)) return;
                                          for (const BroadcastMsg& b : msgs) publish(b);
                                      });
    }
}

HttpResponse HttpApi::broadcast_event(const HttpRequest& req, std::string_view sub_topic, std::string_view event) {
    Claims caller;
    if (auto refused = refuse(req, caller)) return *refused;
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
    if (!b.is_private) {
        publish(std::move(b));
        return json_response(202, "");
    }
    // A private message is answered once the caller's write check is: 202, or Supabase's
    // refusal (403 Unauthorized when the policies do not let it write).
    HttpResponse later;
    later.deferred = next_deferred_++;
    hub_.authorize_http_broadcast(caller, req.headers_json, std::string(sub_topic),
                                  [this, id = later.deferred, b = std::move(b)](const AccessResult& r) {
                                      HttpResponse answer = private_answer(r);
                                      if (answer.status == 202) publish(b);
                                      if (answer_later_) answer_later_(id, std::move(answer));
                                  });
    return later;
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

void HttpApi::publish(BroadcastMsg b) {
    b.meta_json = "{\"id\":\"" + random_uuid() + "\"}";  // Supabase gives REST messages an id
    hub_.publish_broadcast(b);
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
