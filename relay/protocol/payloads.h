// The JSON payloads the relay sends to clients, built in one place: replies
// ({"status","response"}), refusals ({"reason"}), system messages, user broadcasts and
// postgres_changes events. Pure logic, no I/O; the frames around them are phoenix.h's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/events.h"

namespace rt::payloads {

// {"reason":<reason>}: the response of an error reply, the payload of a phx_error.
std::string reason(std::string_view reason);

// {"status":<status>,"response":<response_json>}: a phx_reply.
std::string reply(std::string_view status, std::string_view response_json);

// {"extension","status","message","channel"}: a "system" event; channel is the sub-topic.
std::string system(std::string_view extension, std::string_view status, std::string_view message,
                   std::string_view channel);

// {"type":"broadcast","event","payload"[,"meta"]}: a user broadcast as clients receive it.
std::string broadcast(const BroadcastMsg& msg);

// {"ids":[...],"data":<data_json>}: a postgres_changes event.
std::string postgres_changes(const std::vector<int64_t>& ids, std::string_view data_json);

// The same postgres_changes event with other ids (those of one member): its "data" is
// kept as it is, without parsing it.
std::string postgres_changes_with_ids(std::string_view payload, const std::vector<int64_t>& ids);

// A kept change delivered to a client that resumed: ids as for postgres_changes_with_ids,
// and "recovered":true next to them (realtime-js passes the event on without it).
std::string recovered_with_ids(std::string_view payload, const std::vector<int64_t>& ids);

// The ids of a postgres_changes payload ({"ids":[...],...}).
std::vector<int64_t> ids_of(std::string_view payload);

// A group of a postgres_changes event as one member receives it: "ids" narrowed to that
// member's own matching ids (Supabase sends each channel its own ids; the node's list
// would leak other clients' subscription ids and grow every message with the number of
// subscribers).
ChangeGroup narrowed(const ChangeGroup& group, std::vector<int64_t> own);

}  // namespace rt::payloads
