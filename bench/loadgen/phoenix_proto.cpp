// Owns: Phoenix / Supabase Realtime message encoding and decoding (see phoenix_proto.h).
#include "bench/loadgen/phoenix_proto.h"

#include "bench/loadgen/json_scan.h"

namespace lg::phx {

static bool decode_kind4(std::string_view f, Message* out) {
    // 4, topic_len, event_len, metadata_len, encoding, topic, event, metadata, payload
    if (f.size() < 5 || uint8_t(f[0]) != 4) return false;
    size_t tl = uint8_t(f[1]), el = uint8_t(f[2]), ml = uint8_t(f[3]);
    size_t pos = 5;
    if (f.size() < pos + tl + el + ml) return false;
    out->kind4 = true;
    out->topic = f.substr(pos, tl);
    out->event = "broadcast";
    out->user_event = f.substr(pos + tl, el);
    out->user_payload = f.substr(pos + tl + el + ml);
    return true;
}

bool decode(bool binary, std::string_view f, Vsn vsn, Message* out) {
    *out = Message{};
    if (binary) return decode_kind4(f, out);
    std::string_view v = json::value_at(f);
    if (v.empty()) return false;
    if (v.front() == '[') {
        return json::array_get(v, 0, &out->join_ref) && json::array_get(v, 1, &out->ref) &&
               json::array_get(v, 2, &out->topic) && json::array_get(v, 3, &out->event) &&
               json::array_get(v, 4, &out->payload);
    }
    if (v.front() != '{') return false;
    json::object_get(v, "join_ref", &out->join_ref);
    json::object_get(v, "ref", &out->ref);
    return json::object_get(v, "topic", &out->topic) && json::object_get(v, "event", &out->event) &&
           json::object_get(v, "payload", &out->payload);
}

static void ref_value(std::string* out, std::string_view r) {
    if (r.empty()) out->append("null");
    else json::append_quoted(out, r);
}

void encode(std::string* out, Vsn vsn, std::string_view join_ref, std::string_view ref,
            std::string_view topic, std::string_view event, std::string_view payload_json) {
    out->clear();
    if (vsn == Vsn::k2) {
        out->push_back('[');
        ref_value(out, join_ref);
        out->push_back(',');
        ref_value(out, ref);
        out->push_back(',');
        json::append_quoted(out, topic);
        out->push_back(',');
        json::append_quoted(out, event);
        out->push_back(',');
        out->append(payload_json);
        out->push_back(']');
        return;
    }
    out->append("{\"topic\":");
    json::append_quoted(out, topic);
    out->append(",\"event\":");
    json::append_quoted(out, event);
    out->append(",\"payload\":");
    out->append(payload_json);
    out->append(",\"ref\":");
    ref_value(out, ref);
    if (!join_ref.empty()) {
        out->append(",\"join_ref\":");
        ref_value(out, join_ref);
    }
    out->push_back('}');
}

void encode_kind3(std::string* out, std::string_view join_ref, std::string_view ref,
                  std::string_view topic, std::string_view user_event, std::string_view payload_json) {
    out->clear();
    out->push_back(char(3));
    out->push_back(char(uint8_t(join_ref.size())));
    out->push_back(char(uint8_t(ref.size())));
    out->push_back(char(uint8_t(topic.size())));
    out->push_back(char(uint8_t(user_event.size())));
    out->push_back(char(0));  // metadata length
    out->push_back(char(1));  // JSON-encoded payload
    out->append(join_ref).append(ref).append(topic).append(user_event);
    out->append(payload_json);
}

std::string join_payload(bool self, bool ack, std::string_view pg_changes_json, bool is_private) {
    std::string p = "{\"config\":{\"broadcast\":{\"self\":";
    p += self ? "true" : "false";
    p += ",\"ack\":";
    p += ack ? "true" : "false";
    p += "},\"presence\":{\"enabled\":false,\"key\":\"\"},\"postgres_changes\":";
    p += pg_changes_json.empty() ? std::string_view("[]") : pg_changes_json;
    p += is_private ? ",\"private\":true}}" : ",\"private\":false}}";
    return p;
}

void broadcast_payload(std::string* out, std::string_view user_event, std::string_view payload_json) {
    out->assign("{\"type\":\"broadcast\",\"event\":");
    json::append_quoted(out, user_event);
    out->append(",\"payload\":");
    out->append(payload_json);
    out->push_back('}');
}

void http_broadcast_body(std::string* out, std::string_view user_event,
                         const std::vector<std::pair<std::string_view, std::string_view>>& messages) {
    out->assign("{\"messages\":[");
    bool first = true;
    for (auto& [topic, payload] : messages) {
        if (!first) out->push_back(',');
        first = false;
        out->append("{\"topic\":");
        json::append_quoted(out, topic);
        out->append(",\"event\":");
        json::append_quoted(out, user_event);
        out->append(",\"payload\":");
        out->append(payload);
        out->append(",\"private\":false}");
    }
    out->append("]}");
}

bool reply_ok(std::string_view payload, std::string* reason) {
    std::string_view status, response, r;
    if (!json::object_get(payload, "status", &status)) {
        *reason = "reply without status";
        return false;
    }
    if (json::string_equals(status, "ok")) return true;
    if (json::object_get(payload, "response", &response) && json::object_get(response, "reason", &r))
        json::as_string(r, reason);
    else
        *reason = std::string(payload.substr(0, 200));
    return false;
}

std::string socket_target(const std::string& base_target, const std::string& token, Vsn vsn) {
    std::string t = base_target;
    t += t.find('?') == std::string::npos ? '?' : '&';
    if (!token.empty()) t += "apikey=" + token + "&";
    t += vsn == Vsn::k2 ? "vsn=2.0.0" : "vsn=1.0.0";
    return t;
}

}  // namespace lg::phx
