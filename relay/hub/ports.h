// What the hub (the loop thread's protocol logic) calls in the outside world: the
// sockets, the database, the cluster. The relay wires these to libwebsockets
// (io/server), the database pool (io/subscription_db, io/authorization_db) and the mesh
// (io/mesh_port); unit tests wire them to recorders. Calls return at once (the loop never waits); answers
// come back through the loop's inbound port (inbound.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "relay/core/events.h"
#include "relay/core/inspect.h"

namespace rt {

struct Connection;

class Transport {
public:
    virtual ~Transport() = default;
    // Frames were queued on conn: write them when the socket allows.
    virtual void request_write(Connection& conn) = 0;
    // Close conn with a WebSocket close code once what is queued before has been sent.
    virtual void close(Connection& conn, int code, std::string_view reason) = 0;
};

class DbPort {
public:
    virtual ~DbPort() = default;
    virtual bool available() const = 0;
    // Inserts one subscription row per binding in one transaction (or, with adopt enabled,
    // first moves here the rows a dead node left for the same bindings and user, all or
    // none); answers through LoopInbound::subscribe_result with member_id. client: the
    // connection it is for (a client's database work runs one job at a time, beside other
    // clients').
    virtual void subscribe(uint64_t client, uint64_t member_id, std::vector<BindingSpec> bindings,
                           std::string claims_json, AdoptAs adopt) = 0;
    virtual void unsubscribe(std::vector<int64_t> ids) = 0;
    // A refreshed token: the rows ids take its claims (realtime.update_claims), after the
    // client's earlier jobs. Bindings the new role may not have come back ended through
    // LoopInbound::bindings_ended (their rows are gone); a failed call ends them all.
    virtual void update_claims(uint64_t client, std::vector<int64_t> ids, std::string claims_json) = 0;
    // The rows ids are parked since at_ms (wall clock; their client went away, this node
    // keeps their changes), or no longer (at_ms 0: their client is back): written in
    // batches (realtime.mark_parked), so another node adopting a row knows (hub/resume).
    virtual void mark_parked(std::vector<int64_t> ids, int64_t at_ms) = 0;
};

// Realtime Authorization and replay (design 3.6) on the database pool. client: the
// connection the work is for (its jobs run one at a time, beside other clients').
class AccessPort {
public:
    virtual ~AccessPort() = default;
    // realtime.authorize; answers through LoopInbound::access_result with ticket.
    virtual void authorize(uint64_t client, uint64_t ticket, AccessCheck check) = 0;
    // realtime.replay; answers through LoopInbound::replay_result with ticket.
    virtual void replay(uint64_t client, uint64_t ticket, ReplayQuery query) = 0;
};

class ClusterPort {
public:
    virtual ~ClusterPort() = default;
    virtual void publish_broadcast(const BroadcastMsg& msg) = 0;
    // This node gained its first (true) or lost its last (false) member of the channel
    // whose topic::channel_key is key.
    virtual void channel_interest(const std::string& key, bool interested) = 0;
    virtual void publish_presence(const PresenceDelta& delta) = 0;
    // This node's presence entries, for the peer that asked (LoopInbound::presence_snapshot_wanted).
    virtual void send_presence_snapshot(const std::string& to, std::vector<PresenceDelta> entries) = 0;
    // An inspector's question, to every peer; a peer's answer goes back through
    // LoopInbound::inspect_answer. answer_inspect: this node's answer to the peer that asked.
    virtual void ask_inspect(const InspectQuery& q) = 0;
    virtual void answer_inspect(const std::string& to, const InspectAnswer& a) = 0;
    // Kept changes of subscriptions moved between nodes (hub/kept_transfer): the adopting
    // node asks the node they were parked on; that node answers through
    // LoopInbound::kept_handed.
    virtual void ask_kept(const std::string& node, const KeptAsk& ask) = 0;
    virtual void hand_kept(const std::string& to, const KeptHandOver& handed) = 0;
};

// What the hub hands to this node's inspector (relay/inspector): peers' answers to its
// questions, as they arrive.
class InspectorPort {
public:
    virtual ~InspectorPort() = default;
    virtual void answered(const std::string& node, InspectAnswer a) = 0;
};

}  // namespace rt
