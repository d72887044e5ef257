// A broadcast's frames, built on first use.
#include "relay/protocol/broadcast_frames.h"

#include "relay/protocol/payloads.h"

namespace rt {

const FrameRef* BroadcastFrames::for_vsn(phoenix::Vsn vsn) {
    if (vsn == phoenix::Vsn::V1) return msg_.json_payload ? text(v1_, vsn) : nullptr;
    if ((msg_.binary_origin || !msg_.json_payload) && binary()) return &v2_binary_;
    return msg_.json_payload ? text(v2_text_, vsn) : nullptr;
}

const FrameRef* BroadcastFrames::text(FrameRef& slot, phoenix::Vsn vsn) {
    if (!slot) {
        if (payload_.empty()) payload_ = payloads::broadcast(msg_);
        std::string buf = frame_buffer(payload_.size() + msg_.topic.size() + 48);
        phoenix::encode(buf, vsn, std::nullopt, std::nullopt, msg_.topic, "broadcast", payload_);
        slot = make_frame(std::move(buf), false);
    }
    return &slot;
}

// A field too long for kind 4's one-byte lengths falls back to text (when it is JSON).
bool BroadcastFrames::binary() {
    if (!v2_binary_ && binary_ok_) {
        std::string buf = frame_buffer(msg_.payload.size() + msg_.topic.size() + 32);
        binary_ok_ = phoenix::encode_user_broadcast(buf, msg_.topic, msg_.event, msg_.meta_json, msg_.json_payload,
                                                    msg_.payload);
        if (binary_ok_) v2_binary_ = make_frame(std::move(buf), true);
    }
    return binary_ok_;
}

}  // namespace rt
