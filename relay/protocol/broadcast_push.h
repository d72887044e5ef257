// A client's broadcast push as a BroadcastMsg: the text form ({"type":"broadcast",
// "event","payload"}, the payload kept as the client wrote it) or binary kind 3 (raw or
// JSON payload; its metadata is dropped). Pure logic, no I/O.
#pragma once

#include <string>

#include "relay/core/events.h"
#include "relay/protocol/phoenix.h"

namespace rt {

// Fills out (topic: the member's channel) from msg; false when a text push lacks its event.
bool read_broadcast_push(const phoenix::Inbound& msg, const std::string& topic, BroadcastMsg& out);

}  // namespace rt
