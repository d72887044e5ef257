// Fuzz target: client text frames (vsn 1.0.0 when the mode byte is even, 2.0.0 when odd)
// through the Phoenix decoder, then what the hub reads of an accepted frame (a join's
// config, a broadcast push). An accepted frame, encoded again, decodes to the same.
#include "fuzz_input.h"
#include "relay/core/events.h"
#include "relay/protocol/broadcast_push.h"
#include "relay/protocol/join_config.h"
#include "relay/protocol/phoenix.h"

using namespace rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in = fuzz::split(data, size);
    phoenix::Vsn vsn = in.mode & 1 ? phoenix::Vsn::V2 : phoenix::Vsn::V1;
    phoenix::Inbound msg;
    std::string error;
    if (!phoenix::decode_text(in.text, vsn, msg, error)) {
        fuzz::require(!error.empty());
        return 0;
    }
    JoinConfig config = parse_join_config(msg.payload);
    BroadcastMsg push;
    read_broadcast_push(msg, msg.topic, push);

    std::string payload = msg.payload ? json::stringify(*msg.payload) : "{}";
    std::optional<std::string_view> join_ref, ref;
    if (msg.join_ref) join_ref = *msg.join_ref;
    if (msg.ref) ref = *msg.ref;
    std::string frame;
    phoenix::encode(frame, vsn, join_ref, ref, msg.topic, msg.event, payload);
    phoenix::Inbound again;
    fuzz::require(phoenix::decode_text(frame, vsn, again, error));
    fuzz::require(again.topic == msg.topic && again.event == msg.event);
    fuzz::require(again.payload && json::stringify(*again.payload) == payload);
    return 0;
}
