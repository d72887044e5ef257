// Owns: the Phoenix / Supabase Realtime wire format as the load generator speaks it:
// vsn 1.0.0 JSON objects, vsn 2.0.0 JSON arrays, binary kind 3 (client broadcast push)
// and kind 4 (server broadcast), the phx_join config, broadcast and heartbeat messages,
// and the HTTP /api/broadcast body. Encoding and decoding only, no I/O.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lg::phx {

enum class Vsn { k1, k2 };

struct Message {
    // Raw JSON slices (strings keep their quotes); empty when absent.
    std::string_view join_ref, ref, topic, event, payload;
    bool kind4 = false;              // a binary user broadcast
    std::string_view user_event;     // kind 4 only (raw bytes)
    std::string_view user_payload;   // kind 4 only
};

// Decodes a text (JSON) or binary (kind 4) frame. False when it is neither.
bool decode(bool binary, std::string_view frame, Vsn vsn, Message* out);

// Encodes a text message. join_ref and ref are written as strings, or null when empty.
void encode(std::string* out, Vsn vsn, std::string_view join_ref, std::string_view ref,
            std::string_view topic, std::string_view event, std::string_view payload_json);

// Encodes a binary kind 3 user broadcast push (vsn 2.0.0), JSON-encoded user payload.
void encode_kind3(std::string* out, std::string_view join_ref, std::string_view ref,
                  std::string_view topic, std::string_view user_event, std::string_view payload_json);

// phx_join payload: {"config":{"broadcast":{"self":..,"ack":..},"presence":{"enabled":false,"key":""},
// "postgres_changes":<pg_changes>,"private":<is_private>}}
std::string join_payload(bool self, bool ack, std::string_view pg_changes_json, bool is_private = false);

// broadcast event payload: {"type":"broadcast","event":<ev>,"payload":<payload>}
void broadcast_payload(std::string* out, std::string_view user_event, std::string_view payload_json);

// POST /api/broadcast body for (sub-topic, payload JSON) pairs, all with event `user_event`.
void http_broadcast_body(std::string* out, std::string_view user_event,
                         const std::vector<std::pair<std::string_view, std::string_view>>& messages);

// Reply status of a phx_reply payload: true for "ok"; otherwise *reason holds the reason.
bool reply_ok(std::string_view payload, std::string* reason);

// Appends apikey and vsn to a socket target (path with or without a query).
std::string socket_target(const std::string& base_target, const std::string& token, Vsn vsn);

inline std::string topic_of(const std::string& channel) { return "realtime:" + channel; }

}  // namespace lg::phx
