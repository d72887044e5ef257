// Fuzz target: binary frames (kind 3, a client's user broadcast push) through the
// decoder and into the broadcast a channel would fan out; a JSON payload that was
// accepted parses.
#include "fuzz_input.h"
#include "relay/core/events.h"
#include "relay/core/json.h"
#include "relay/protocol/broadcast_push.h"
#include "relay/protocol/phoenix.h"

using namespace rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view frame(reinterpret_cast<const char*>(data), size);
    phoenix::Inbound msg;
    std::string error;
    if (!phoenix::decode_binary(frame, msg, error)) {
        fuzz::require(!error.empty());
        return 0;
    }
    BroadcastMsg b;
    fuzz::require(read_broadcast_push(msg, msg.topic, b));
    json::Document d;
    if (b.json_payload) fuzz::require(json::parse(d, b.payload));
    if (!b.meta_json.empty()) fuzz::require(json::parse(d, b.meta_json) && d.IsObject());
    // What vsn 2.0.0 members would get (kind 4), when its fields fit the format.
    std::string out;
    phoenix::encode_user_broadcast(out, b.topic, b.event, b.meta_json, b.json_payload, b.payload);
    return 0;
}
