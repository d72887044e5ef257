// Reading a client's broadcast push.
#include "relay/protocol/broadcast_push.h"

namespace rt {

bool read_broadcast_push(const phoenix::Inbound& msg, const std::string& topic, BroadcastMsg& b) {
    b.topic = topic;
    if (msg.binary) {
        b.event = msg.user_event;
        b.payload = msg.user_payload;
        b.json_payload = msg.json_payload;
        b.binary_origin = true;
        if (!msg.metadata.empty()) {
            json::Document meta;
            if (json::parse(meta, msg.metadata) && meta.IsObject()) b.meta_json = msg.metadata;
        }
        return true;
    }
    const json::Value* event = msg.payload ? json::member(*msg.payload, "event") : nullptr;
    if (!event || !event->IsString()) return false;
    b.event = event->GetString();
    const json::Value* inner = json::member(*msg.payload, "payload");
    b.payload = inner ? json::stringify(*inner) : "{}";
    return true;
}

}  // namespace rt
