// The body of POST /api/broadcast read as Supabase reads it (BatchBroadcast's changeset,
// lib/realtime/tenants/batch_broadcast.ex): {"messages":[{"topic","event","payload",
// "private","id"}]}, every message checked, and either the messages to send or the 422
// body naming each message's problems (nothing of a bad batch is sent). Payloads are kept
// as the client wrote them. Pure logic, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/events.h"

namespace rt::http_batch {

struct Batch {
    std::vector<BroadcastMsg> messages;  // meta_json {"id":...} when the message has an id
    // Not empty when the batch is refused: {"errors":{"messages":[...]}} (HTTP 422).
    std::string errors_json;
};

// body must be valid JSON (the caller parsed it). A payload over max_payload_bytes is an
// error of its message, as Supabase's "Payload size exceeds tenant limit".
Batch read(std::string_view body, int64_t max_payload_bytes);

// A UUID as Ecto.UUID casts it (36 characters with hyphens, or 32 hex digits), written
// in lower case with hyphens; nullopt when text is not one.
std::optional<std::string> uuid(std::string_view text);

}  // namespace rt::http_batch
