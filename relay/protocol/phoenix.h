// The Phoenix / Supabase Realtime wire format: decoding client frames (vsn 1.0.0 JSON
// objects, vsn 2.0.0 JSON arrays and binary kind 3) and encoding server frames (the same
// text forms, and binary kind 4). Pure logic, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "relay/core/json.h"

namespace rt::phoenix {

enum class Vsn : uint8_t { V1 = 0, V2 = 1 };

inline constexpr uint8_t kUserBroadcastPush = 3;  // client -> server, binary
inline constexpr uint8_t kUserBroadcast = 4;      // server -> client, binary

struct Inbound {
    std::optional<std::string> join_ref;
    std::optional<std::string> ref;
    std::string topic;
    std::string event;
    json::Document doc;                    // owns the parsed text frame
    const json::Value* payload = nullptr;  // inside doc (text frames)
    std::string_view frame;                // the text frame as received (valid while the caller's buffer is)
    std::string kept_frame;                // the frame's own copy, for a push that waits (keep_frame)

    // Makes frame this message's own (a push held past its read); then it is not moved.
    void keep_frame() {
        kept_frame.assign(frame);
        frame = kept_frame;
    }

    // Binary user broadcast push (kind 3): event "broadcast", payload in these fields.
    bool binary = false;
    std::string user_event;
    std::string metadata;      // JSON text or empty
    bool json_payload = true;  // encoding byte 1; 0 means raw bytes
    std::string user_payload;
};

// On failure returns false with a short reason in error.
bool decode_text(std::string_view frame, Vsn vsn, Inbound& out, std::string& error);
bool decode_binary(std::string_view frame, Inbound& out, std::string& error);

// The JSON text of payload.<name> of a text frame exactly as the client wrote it, or
// nullopt when absent: what the relay passes on (json::compact it first).
std::optional<std::string_view> raw_payload_member(const Inbound& msg, std::string_view name);

// Appends a server message in the text form of vsn. payload_json must be JSON text.
void encode(std::string& out, Vsn vsn, std::optional<std::string_view> join_ref,
            std::optional<std::string_view> ref, std::string_view topic, std::string_view event,
            std::string_view payload_json);
// The payload of a message encode() wrote with no ref, whose payload was payload_size
// bytes: it is the message's tail but for this many bytes.
inline size_t unreffed_suffix_size(Vsn vsn) { return vsn == Vsn::V2 ? 1 : sizeof(",\"ref\":null}") - 1; }


// Appends a kind 4 frame; false when a field exceeds the one-byte lengths of the format.
bool encode_user_broadcast(std::string& out, std::string_view topic, std::string_view user_event,
                           std::string_view metadata_json, bool json_payload, std::string_view payload);

}  // namespace rt::phoenix
