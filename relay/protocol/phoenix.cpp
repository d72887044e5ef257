// Phoenix / Supabase Realtime frame codec.
#include "relay/protocol/phoenix.h"

#include <vector>

namespace rt::phoenix {
namespace {

// Refs are strings in every client we know; numbers are accepted and kept as text.
bool read_ref(const json::Value& v, std::optional<std::string>& out) {
    if (v.IsNull()) {
        out.reset();
        return true;
    }
    if (v.IsString()) {
        out.emplace(v.GetString(), v.GetStringLength());
        return true;
    }
    if (v.IsInt64()) {
        out.emplace(std::to_string(v.GetInt64()));
        return true;
    }
    return false;
}

bool read_string(const json::Value* v, std::string& out) {
    if (!v || !v->IsString()) return false;
    out.assign(v->GetString(), v->GetStringLength());
    return true;
}

void append_ref(std::string& out, std::optional<std::string_view> ref) {
    if (ref)
        json::append_string(out, *ref);
    else
        out += "null";
}

}  // namespace

bool decode_text(std::string_view frame, Vsn vsn, Inbound& out, std::string& error) {
    if (!json::parse(out.doc, frame, &error)) {
        error = "malformed JSON: " + error;
        return false;
    }
    const json::Value& d = out.doc;
    out.frame = frame;
    if (vsn == Vsn::V2) {
        if (!d.IsArray() || d.Size() != 5) {
            error = "expected [join_ref, ref, topic, event, payload]";
            return false;
        }
        if (!read_ref(d[0], out.join_ref) || !read_ref(d[1], out.ref)) {
            error = "join_ref and ref must be strings or null";
            return false;
        }
        if (!read_string(&d[2], out.topic) || !read_string(&d[3], out.event)) {
            error = "topic and event must be strings";
            return false;
        }
        out.payload = &d[4];
        return true;
    }
    if (!d.IsObject()) {
        error = "expected an object with topic, event, payload and ref";
        return false;
    }
    if (!read_string(json::member(d, "topic"), out.topic) || !read_string(json::member(d, "event"), out.event)) {
        error = "topic and event must be strings";
        return false;
    }
    const json::Value* payload = json::member(d, "payload");
    if (!payload) {
        error = "payload is missing";
        return false;
    }
    out.payload = payload;
    const json::Value* ref = json::member(d, "ref");
    const json::Value* join_ref = json::member(d, "join_ref");
    if ((ref && !read_ref(*ref, out.ref)) || (join_ref && !read_ref(*join_ref, out.join_ref))) {
        error = "join_ref and ref must be strings or null";
        return false;
    }
    return true;
}

std::optional<std::string_view> raw_payload_member(const Inbound& msg, std::string_view name) {
    if (!msg.payload || !msg.payload->IsObject()) return std::nullopt;
    std::optional<std::string_view> payload;
    if (msg.doc.IsArray()) {
        std::vector<std::string_view> parts;
        if (json::array_elements(msg.frame, parts) && parts.size() == 5) payload = parts[4];
    } else {
        payload = json::raw_member(msg.frame, "payload");
    }
    return payload ? json::raw_member(*payload, name) : std::nullopt;
}

bool decode_binary(std::string_view frame, Inbound& out, std::string& error) {
    const auto* p = reinterpret_cast<const uint8_t*>(frame.data());
    const size_t header = 7;
    if (frame.empty()) {
        error = "empty binary frame";
        return false;
    }
    if (p[0] != kUserBroadcastPush) {
        error = "unsupported binary frame kind " + std::to_string(p[0]);
        return false;
    }
    if (frame.size() < header) {
        error = "truncated binary frame";
        return false;
    }
    size_t join_ref_len = p[1], ref_len = p[2], topic_len = p[3], event_len = p[4], meta_len = p[5];
    uint8_t encoding = p[6];
    if (encoding > 1) {
        error = "unknown payload encoding " + std::to_string(encoding);
        return false;
    }
    size_t fields = join_ref_len + ref_len + topic_len + event_len + meta_len;
    if (frame.size() < header + fields) {
        error = "truncated binary frame";
        return false;
    }
    size_t pos = header;
    auto take = [&](size_t n) {
        std::string_view s = frame.substr(pos, n);
        pos += n;
        return s;
    };
    std::string_view join_ref = take(join_ref_len), ref = take(ref_len);
    if (join_ref_len) out.join_ref.emplace(join_ref);
    if (ref_len) out.ref.emplace(ref);
    out.topic.assign(take(topic_len));
    out.user_event.assign(take(event_len));
    out.metadata.assign(take(meta_len));
    // The fields go out again inside JSON text frames (replies, vsn 1.0.0 members): bytes
    // that are not UTF-8 would make the receiving client close its socket. Found by
    // fuzz_hub.
    for (std::string_view field : {join_ref, ref, std::string_view(out.topic), std::string_view(out.user_event),
                                   std::string_view(out.metadata)})
        if (!json::is_utf8(field)) {
            error = "binary frame: join_ref, ref, topic, event and metadata must be UTF-8";
            return false;
        }
    out.user_payload.assign(frame.substr(pos));
    out.json_payload = encoding == 1;
    out.event = "broadcast";
    out.binary = true;
    out.payload = nullptr;
    if (out.json_payload) {
        json::Document check;
        if (!json::parse(check, out.user_payload, &error)) {
            error = "malformed JSON payload: " + error;
            return false;
        }
    }
    return true;
}

void encode(std::string& out, Vsn vsn, std::optional<std::string_view> join_ref,
            std::optional<std::string_view> ref, std::string_view topic, std::string_view event,
            std::string_view payload_json) {
    out.reserve(out.size() + topic.size() + event.size() + payload_json.size() + 64);
    if (vsn == Vsn::V2) {
        out.push_back('[');
        append_ref(out, join_ref);
        out.push_back(',');
        append_ref(out, ref);
        out.push_back(',');
        json::append_string(out, topic);
        out.push_back(',');
        json::append_string(out, event);
        out.push_back(',');
        out.append(payload_json);
        out.push_back(']');
        return;
    }
    out += "{\"topic\":";
    json::append_string(out, topic);
    out += ",\"event\":";
    json::append_string(out, event);
    out += ",\"payload\":";
    out.append(payload_json);
    out += ",\"ref\":";
    append_ref(out, ref);
    out.push_back('}');
}

bool encode_user_broadcast(std::string& out, std::string_view topic, std::string_view user_event,
                           std::string_view metadata_json, bool json_payload, std::string_view payload) {
    if (topic.size() > 255 || user_event.size() > 255 || metadata_json.size() > 255) return false;
    out.reserve(out.size() + 5 + topic.size() + user_event.size() + metadata_json.size() + payload.size());
    out.push_back(static_cast<char>(kUserBroadcast));
    out.push_back(static_cast<char>(topic.size()));
    out.push_back(static_cast<char>(user_event.size()));
    out.push_back(static_cast<char>(metadata_json.size()));
    out.push_back(static_cast<char>(json_payload ? 1 : 0));
    out.append(topic);
    out.append(user_event);
    out.append(metadata_json);
    out.append(payload);
    return true;
}

}  // namespace rt::phoenix
