// A phx_join's payload as the relay reads it: {"config":{"broadcast":{"self","ack",
// "replication_ready","replay":{"since","limit"}},"presence":{"enabled","key"},
// "postgres_changes":[...],"private"},"access_token"}. Pure logic, no I/O: the join flow (hub/join) decides what to do with it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "relay/core/events.h"
#include "relay/core/json.h"

namespace rt {

// One postgres_changes binding as the client asked for it.
struct BindingRequest {
    BindingSpec spec;
    std::string echo_json;  // the client's binding object, echoed in the join reply
    std::string error;      // Supabase's message when it cannot be subscribed (the join is still OK)
};

// config.broadcast.replay, read as Supabase reads it (realtime_channel.ex
// maybe_replay_messages/5, Realtime.Messages.replay/5).
struct ReplayConfig {
    bool asked = false;      // the key is there, whatever its value: refused on public channels
    bool requested = false;  // its value is an object: the replay runs (private channels)
    bool valid = false;      // since an integer, limit an integer (or absent, null or false: 25)
    int64_t since = 0;       // ms since the epoch (its range is realtime.replay's to check)
    int limit = 25;          // clamped to 1..25
};

struct JoinConfig {
    bool self = false;               // broadcast.self: the sender gets its own broadcasts
    bool ack = false;                // broadcast.ack: broadcasts are answered with a reply
    bool replication_ready = false;  // broadcast.replication_ready: the "Replication connection established" event
    bool presence_enabled = false;
    std::string presence_key;        // empty: the join flow makes one
    bool is_private = false;
    ReplayConfig replay;
    std::string access_token;        // the join's own token (access_token, or user_token); empty: the socket's
    std::vector<BindingRequest> bindings;
    std::string bindings_error;      // not empty when a postgres_changes entry is not an object (the join is refused)
};

// Reads payload (the phx_join payload; nullptr or not an object reads as no config).
JoinConfig parse_join_config(const json::Value* payload);

}  // namespace rt
