// This node's part of an inspector's answer (for an admin's page on this node or on
// another one): the busiest channels whose topic contains a text, or one channel's
// members, presence and postgres_changes bindings (by its topic::channel_key), as a JSON object. Reads the hub's
// state with bounded work: a listing visits each channel once and keeps the `limit`
// busiest; a channel's detail lists at most kInspectListed members, distinct bindings
// and presence entries, with their totals. Pure logic.
#pragma once

#include <cstddef>
#include <string>

#include "relay/core/inspect.h"
#include "relay/hub/channels.h"
#include "relay/hub/presence_store.h"

namespace rt {

inline constexpr size_t kInspectListed = 50;
inline constexpr uint32_t kInspectMaxLimit = 200;  // channels one listing may ask each node for

// Channels:  {"node","channels":<all here>,"matched":<with the text>,
//             "list":[{"key","topic","private","members","presence","bindings","broadcasts"}]}
//            busiest first (members, then broadcasts), presence counting this node's entries
// Channel:   {"node","key","members","broadcasts","presence","bindings",
//             "member_list":[{"id","connection","vsn","role","sub","presence_key","presence","bindings"}],
//             "subscriptions":[{"event","schema","table","filter","role","members","live"}],
//             "presence_list":[{"key","phx_ref","meta"}]}
//            presence_list holds this node's own entries (each node answers for its own)
std::string inspect_answer(const InspectQuery& q, const std::string& node, const Channels& channels,
                           const PresenceStore& presence);

}  // namespace rt
