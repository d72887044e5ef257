// The relay's protocol state, owned by the loop thread: connections, channels, their
// memberships, presence, and the routing of broadcasts and Postgres changes to sockets.
//
// The hub does no I/O. Sockets are behind Transport, the database behind DbPort, the
// cluster behind ClusterPort; everything else reaches it as plain messages. That keeps
// all of the Phoenix / Supabase protocol logic testable without a network.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "relay/core/config.h"
#include "relay/protocol/frame.h"
#include "relay/protocol/jwt.h"
#include "relay/core/events.h"
#include "relay/core/metrics.h"
#include "relay/protocol/phoenix.h"
#include "relay/hub/ports.h"
#include "relay/hub/presence_store.h"
#include "relay/protocol/rate_limit.h"
#include "relay/protocol/send_queue.h"

namespace rt {

struct Channel;
struct Connection;

// One postgres_changes binding of a membership.
struct Binding {
    BindingSpec spec;
    std::string echo_json;  // the client's binding object, echoed in the join reply
    int64_t id = 0;
    bool live = false;      // the decoder has it (a SUBSCRIBED document was seen)
};

// One connection's membership of one channel.
struct Member {
    uint64_t id = 0;        // unique for the life of the relay; presence owner
    Connection* conn = nullptr;
    Channel* channel = nullptr;
    size_t slot = 0;        // index in channel->members
    std::string join_ref;
    bool joined = false;    // false while its postgres_changes bindings are being created
    bool self = false;
    bool ack = false;
    bool replication_ready = false;  // asked for the "Replication connection established" event
    bool presence_enabled = false;
    bool announced = false;  // "Subscribed to PostgreSQL" sent
    std::string presence_key;
    std::vector<Binding> bindings;
    std::string access_token;  // the token this channel was authorized with
    int64_t token_exp = 0;
    std::optional<std::string> pending_ref;  // ref of the join awaiting its reply
    std::unique_ptr<Claims> claims;  // set when the join carried its own access_token
    std::vector<ChangeEvent> replay;  // changes held for adopted subscriptions, sent after the reply
    uint64_t change_stamp = 0;        // last change event queued to it (deduplicates its ids)
};

struct Connection {
    uint64_t id = 0;
    void* transport = nullptr;  // the transport's handle (the lws wsi)
    phoenix::Vsn vsn = phoenix::Vsn::V1;
    Claims claims;
    std::string token;
    SendQueue queue;
    std::vector<std::unique_ptr<Member>> members;
    RateLimiter events;
    RateLimiter joins;
    int64_t last_rx_ms = 0;
    bool closing = false;
    bool dirty = false;  // queued frames wait for the end of the loop turn (the transport's)

    Member* member(std::string_view topic);
};

struct Channel {
    std::string topic;
    std::vector<Member*> members;   // joined
    std::vector<Member*> routing;   // joins answered once the cluster routes the channel here
    bool interest = false;          // this node listens to the channel on the mesh
    bool routed = true;             // every peer delivers the channel's broadcasts here
};

class Hub {
public:
    Hub(const Config& cfg, Transport& transport, Metrics& metrics, DbPort* db, ClusterPort* cluster);
    ~Hub();

    // Clock, set by the loop before it calls in (tests set it by hand).
    void set_clock(int64_t mono_ms, int64_t wall_s) {
        now_ms_ = mono_ms;
        now_s_ = wall_s;
    }

    // -- client connections ----------------------------------------------------------
    Connection* open(void* transport, phoenix::Vsn vsn, Claims claims, std::string token);
    void receive(Connection& conn, std::string_view data, bool binary);
    void closed(Connection& conn);  // the transport is gone: forget conn and its channels
    // Expired tokens, idle sockets, orphaned subscriptions past their grace; call ~1/s.
    void tick();
    // Every connection closed, every subscription of this node released.
    void shutdown();

    // -- from other threads ----------------------------------------------------------
    void deliver_broadcast(const BroadcastMsg& msg);  // HTTP, SQL or another node
    void deliver_change(const ChangeEvent& ev);       // from the slot, here or remote
    void on_subscribe_result(SubscribeResult&& r);
    void adopt_orphans(std::vector<OrphanRow> rows);  // this node's rows left by a crash
    void apply_remote_presence(const std::string& node, const PresenceDelta& delta);
    // The registry found which of this node's subscription rows still exist after this
    // node was silent long enough for the slot holder to remove them: channels whose rows
    // are gone get phx_error, which makes realtime-js rejoin (and subscribe again).
    void drop_lost_subscriptions(const std::unordered_set<int64_t>& present);
    // The peers confirmed this node's subscription to topic: waiting joins are answered.
    void on_channel_routed(const std::string& topic);
    void remove_remote_presence(const std::string& node);  // a peer went down
    void replace_remote_presence(const std::string& node, const std::vector<PresenceDelta>& entries);

    // -- for the transport and observers ----------------------------------------------
    size_t connection_count() const { return connections_.size(); }
    size_t channel_count() const { return channels_.size(); }
    const PresenceStore& presence() const { return presence_; }
    bool has_channel(const std::string& topic) const { return channels_.count(topic) > 0; }
    void for_each_presence_entry(const std::function<void(const PresenceDelta&)>& fn) const;
    // Lowest commit LSN still held for orphaned subscriptions (0: none): the slot must
    // not be acknowledged past it.
    uint64_t held_floor() const { return held_floor_; }
    size_t orphan_count() const { return orphans_.size(); }

private:
    struct Orphan {
        OrphanRow row;
        std::vector<ChangeEvent> held;
        int64_t held_bytes = 0;
    };

    // inbound dispatch (hub.cpp)
    void handle(Connection& conn, phoenix::Inbound& msg);
    void handle_heartbeat(Connection& conn, const phoenix::Inbound& msg);
    void handle_join(Connection& conn, phoenix::Inbound& msg);
    void handle_leave(Connection& conn, Member& m, const phoenix::Inbound& msg);
    void handle_broadcast(Connection& conn, Member& m, const phoenix::Inbound& msg);
    void handle_presence(Connection& conn, Member& m, const phoenix::Inbound& msg);
    void handle_access_token(Connection& conn, Member& m, const phoenix::Inbound& msg);
    bool parse_bindings(const json::Value* config, std::vector<Binding>& out, std::string& error);
    void complete_join(Member& m);
    void admit(Member& m);
    void remove_member(Member& m, bool send_close);
    void close_channel_with_error(Member& m, std::string_view message);

    // fan-out
    void fanout_broadcast(Channel& ch, const BroadcastMsg& msg, const Member* skip);
    void fanout_presence_diff(const PresenceDiff& diff);
    void enqueue(Connection& conn, FrameRef frame);
    void send_reply(Connection& conn, const phoenix::Inbound& msg, std::string_view status,
                    std::string_view response_json);
    void send_reply(Connection& conn, std::optional<std::string_view> join_ref, std::optional<std::string_view> ref,
                    std::string_view topic, std::string_view status, std::string_view response_json);
    void send_error_reply(Connection& conn, const phoenix::Inbound& msg, std::string_view reason);
    // ref: Phoenix sends phx_close and phx_error with ref = join_ref (realtime-js ignores
    // them when that ref is not its current join); other pushes have none.
    void push(Connection& conn, std::optional<std::string_view> join_ref, std::string_view topic,
              std::string_view event, std::string_view payload_json,
              std::optional<std::string_view> ref = std::nullopt);
    void send_system(Member& m, std::string_view extension, std::string_view status, std::string_view message);

    // presence
    void track(Member& m, std::string meta_json);
    void untrack(Member& m);

    // postgres changes (changes.cpp)
    void register_bindings(Member& m);
    void release_bindings(Member& m);
    bool try_adopt(Member& m, const Claims& claims);
    void announce_if_live(Member& m);
    void deliver_row(const ChangeEvent& ev);
    void send_change(Member& m, const ChangeEvent& ev, FrameRef* cache);
    void hold_for_orphan(Orphan& o, const ChangeEvent& ev);
    void expire_orphans();
    void recompute_held_floor();

    Channel& channel(const std::string& topic);
    const Claims& claims_of(const Member& m) const;
    std::string next_phx_ref();

    const Config& cfg_;
    Transport& transport_;
    Metrics& metrics_;
    DbPort* db_;
    ClusterPort* cluster_;
    JwtVerifier jwt_;

    int64_t now_ms_ = 0;
    int64_t now_s_ = 0;
    uint64_t next_conn_id_ = 1;
    uint64_t next_member_id_ = 1;
    uint64_t next_ref_ = 1;

    std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
    std::unordered_map<std::string, std::unique_ptr<Channel>> channels_;
    std::unordered_map<uint64_t, Member*> pending_joins_;       // member id -> member
    PresenceStore presence_;

    std::unordered_map<int64_t, Member*> bindings_by_id_;
    std::unordered_set<int64_t> live_before_bound_;  // SUBSCRIBED seen before the DB answer
    std::unordered_map<int64_t, Orphan> orphans_;
    int64_t orphans_deadline_ms_ = 0;
    uint64_t held_floor_ = 0;
    ChangePos delivered_;  // highest change position delivered: anything not above is a replay
    uint64_t change_stamp_ = 0;
};

}  // namespace rt
