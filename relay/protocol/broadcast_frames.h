// The frames of one user broadcast, as each kind of client receives it: vsn 1.0.0 text,
// vsn 2.0.0 text, or vsn 2.0.0 binary kind 4 (for binary pushes and raw payloads). Each is
// built the first time a recipient needs it and shared by the others. Pure logic.
#pragma once

#include <string>

#include "relay/core/events.h"
#include "relay/protocol/frame.h"
#include "relay/protocol/phoenix.h"

namespace rt {

class BroadcastFrames {
public:
    explicit BroadcastFrames(const BroadcastMsg& msg) : msg_(msg) {}

    // The frame for a recipient on vsn; null when it cannot receive this message (raw
    // bytes cannot travel in JSON, so never to vsn 1.0.0).
    const FrameRef* for_vsn(phoenix::Vsn vsn);

private:
    const FrameRef* text(FrameRef& slot, phoenix::Vsn vsn);
    bool binary();

    const BroadcastMsg& msg_;
    FrameRef v1_, v2_text_, v2_binary_;
    bool binary_ok_ = true;
    std::string payload_;  // the text form's payload
};

}  // namespace rt
