// Reading a client's broadcast push.
#include "relay/protocol/broadcast_push.h"

namespace rt {

bool read_broadcast_push(const phoenix::Inbound& msg, const std::string& topic, BroadcastMsg& b) {
    b.topic = topic;
    if (msg.binary) {
        // Its metadata is not passed on (Supabase's build_broadcast/2 ignores it too): a
        // client must not stamp meta.id or meta.replayed on what others receive.
        b.event = msg.user_event;
        b.payload = msg.user_payload;
        b.json_payload = msg.json_payload;
        b.binary_origin = true;
        return true;
    }
    const json::Value* event = msg.payload ? json::member(*msg.payload, "event") : nullptr;
    if (!event || !event->IsString()) return false;
    b.event = event->GetString();
    std::optional<std::string_view> inner = phoenix::raw_payload_member(msg, "payload");
    b.payload = inner ? json::compact(*inner) : "{}";
    return true;
}

}  // namespace rt
