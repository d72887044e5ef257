// The hub: the loop thread's protocol state and the dispatch of what reaches it. It owns
// the connections and composes the features that own the rest: Channels (membership and
// the broadcast path), JoinFlow, Presence, Changes (Postgres Changes), Resume (orphaned
// subscriptions), Auth (tokens), Access (private channels' policies), Replay (stored
// broadcasts at join), Output (send queues).
//
// The hub does no I/O. Sockets are behind Transport, the database behind DbPort and
// AccessPort, the cluster behind ClusterPort (ports.h); other threads reach it through the loop's
// inbound port (inbound.h, implemented on the mailbox in loop_inbound.h). That keeps all of the Phoenix / Supabase protocol logic
// testable without a network.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "relay/core/config.h"
#include "relay/core/events.h"
#include "relay/core/metrics.h"
#include "relay/core/topic.h"
#include "relay/hub/access.h"
#include "relay/hub/auth.h"
#include "relay/hub/changes.h"
#include "relay/hub/channels.h"
#include "relay/hub/inspect.h"
#include "relay/hub/join.h"
#include "relay/hub/model.h"
#include "relay/hub/output.h"
#include "relay/hub/ports.h"
#include "relay/hub/presence.h"
#include "relay/hub/replay.h"
#include "relay/hub/replay_guard.h"
#include "relay/hub/resume.h"
#include "relay/hub/write_ledger.h"

namespace rt {

class Hub final : private MemberExit {
public:
    Hub(const Config& cfg, Transport& transport, Metrics& metrics, DbPort* db, ClusterPort* cluster,
        AccessPort* access = nullptr);
    ~Hub();

    // Clock, set by the loop before it calls in (tests set it by hand).
    void set_clock(int64_t mono_ms, int64_t wall_s, int64_t wall_ms = -1) {
        clock_ = {mono_ms, wall_s, wall_ms < 0 ? wall_s * 1000 : wall_ms};
    }

    // -- client connections ----------------------------------------------------------
    // headers_json: what the connection's private channels' policies see as request.headers.
    Connection* open(void* transport, phoenix::Vsn vsn, Claims claims, std::string token,
                     std::string headers_json = "{}");
    void receive(Connection& conn, std::string_view data, bool binary);
    // The transport is gone: forget conn and its channels; their postgres_changes
    // subscriptions are parked for --resume-window (hub/resume).
    void closed(Connection& conn);
    // Expired tokens, idle sockets, orphaned subscriptions past their grace; call ~1/s.
    void tick();
    // SIGTERM: from now on joins are refused (RealtimeRestarting) and this node's
    // subscription rows stay when members leave, as a crash leaves them, for the returning
    // clients to adopt within --resume-grace (here after a restart, or on another node).
    void begin_drain();
    // Closes up to max of the open connections with 1012; returns how many stay open.
    size_t drain(size_t max);
    bool draining() const { return draining_; }
    static constexpr int kServiceRestart = 1012;

    // -- from the REST API and other threads ----------------------------------------
    void publish_broadcast(const BroadcastMsg& msg);  // the REST API: to members and peers
    void deliver_broadcast(const BroadcastMsg& msg);  // SQL (the slot) or another node: to members
    void deliver_change(const ChangeEvent& ev);       // from the slot, here or remote
    // to is told once what the loop was given so far (changes, broadcasts) is written by
    // the sockets, or parked (hub/write_ledger): the confirmation of a change to the slot
    // holder, or of the slot's position, follows what clients' sockets took.
    void report_when_written(SlotProgress& to, uint64_t commit_lsn);
    void on_subscribe_result(SubscribeResult&& r) { join_.on_subscribe_result(std::move(r)); }
    // Bindings the database ended (a refreshed token): a system error each, nothing more.
    void end_bindings(const std::vector<BindingNotice>& notices) { changes_.end_bindings(notices); }
    void on_access_result(const AccessResult& r);
    void on_replay_result(ReplayResult&& r) { join_.on_replay_result(std::move(r)); }
    // The REST API's private messages to topic (the sub-topic): the caller's write check;
    // done runs on the loop with the answer (a Failure::Unreachable one without a database).
    void authorize_http_broadcast(const Claims& caller, std::string headers_json, std::string topic,
                                  Access::HttpDone done);
    void adopt_orphans(std::vector<OrphanRow> rows) { resume_.adopt_orphans(std::move(rows)); }
    void apply_remote_presence(const std::string& node, const PresenceDelta& delta);
    // The registry found which of this node's subscription rows still exist after this
    // node was silent long enough for the slot holder to remove them: channels whose rows
    // are gone get phx_error, which makes realtime-js rejoin (and subscribe again).
    void drop_lost_subscriptions(const std::unordered_set<int64_t>& present);
    // The peers confirmed this node's subscription to topic: waiting joins are answered.
    void on_channel_routed(const std::string& key) { join_.on_channel_routed(key); }
    // Kept changes of subscriptions moved between nodes (hub/kept_transfer): a peer asks
    // for what was kept here; a peer answers this node's ask.
    void hand_kept(const std::string& node, const KeptAsk& ask);
    void on_kept_handed(const std::string& node, KeptHandOver&& handed) {
        join_.on_kept_handed(node, std::move(handed));
    }
    void remove_remote_presence(const std::string& node);  // a peer went down
    void replace_remote_presence(const std::string& node, const std::vector<PresenceDelta>& entries);
    void send_presence_snapshot(const std::string& to) { presence_.send_snapshot(to); }  // a peer asked

    // -- the inspector (an admin's view; relay/inspector) ---------------------------------
    // This node's part of the answer to q (hub/inspect).
    std::string inspect_local(const InspectQuery& q) const {
        return inspect_answer(q, cfg_.node_id, channels_, presence_.store());
    }
    // Asks every peer q (false without a cluster); answers reach the inspector as they come.
    bool ask_peers(const InspectQuery& q);
    void set_inspector(InspectorPort* inspector) { inspector_ = inspector; }
    void answer_inspect(const std::string& node, const InspectQuery& q);  // a peer asked
    void inspect_answered(const std::string& node, InspectAnswer a) {
        if (inspector_) inspector_->answered(node, std::move(a));
    }

    // -- for the transport and observers ----------------------------------------------
    // conn's socket took frames from its queue.
    void written(Connection& conn) { changes_.written(conn); }
    // The end of a loop turn: the reports whose changes are now written are told.
    void confirm_written() { ledger_.confirm(held_floor()); }
    const Auth& auth() const { return auth_; }
    // The keys of a (re)loaded --jwt-jwks file, for every token checked from now on;
    // channels whose token a key no longer in it verified are closed.
    void set_jwks(std::shared_ptr<const Jwks> jwks);
    size_t connection_count() const { return connections_.size(); }
    size_t channel_count() const { return channels_.count(); }
    const PresenceStore& presence() const { return presence_.store(); }
    bool has_channel(const std::string& topic, bool is_private = false) const {
        return channels_.find(topic::channel_key(topic, is_private)) != nullptr;
    }
    void for_each_presence_entry(const std::function<void(const PresenceDelta&)>& fn) const {
        presence_.for_each_local(fn);
    }
    // Lowest commit LSN still kept for parked subscriptions (0: none): the slot must not
    // be acknowledged past it.
    uint64_t held_floor() const { return resume_.held_floor(); }
    size_t orphan_count() const { return resume_.count(); }  // parked subscriptions

private:
    void dispatch(Connection& conn, phoenix::Inbound& msg);
    // A joined member's push; false when the member is gone after it (left, closed).
    bool dispatch_member(Connection& conn, Member& m, phoenix::Inbound& msg);
    void handle_heartbeat(Connection& conn, const phoenix::Inbound& msg);
    void handle_leave(Connection& conn, Member& m, const phoenix::Inbound& msg);
    void handle_broadcast(Connection& conn, Member& m, const phoenix::Inbound& msg);
    bool handle_access_token(Member& m, const phoenix::Inbound& msg);
    // A private member's check answered (hub/access): its outcome, then its waiting pushes.
    void written(Member& m, const AccessResult& r);
    bool refreshed(Member& m, const Policies& before, const AccessResult& r);
    void drain(Member& m);
    void remove_member(Member& m, bool send_close) override;
    void close_with_error(Member& m, std::string_view message);
    void park(Member& m);
    void cut_off_unwritten(std::vector<Connection*>& stalled);

    const Config& cfg_;
    Metrics& metrics_;
    LoopClock clock_;
    Auth auth_;
    Output out_;
    ReplayGuard replay_;
    Channels channels_;
    Presence presence_;
    Resume resume_;
    WriteLedger ledger_;
    Changes changes_;
    Access access_;
    Replay stored_;  // replays at join (replay_ is the slot position's guard)
    JoinFlow join_;

    ClusterPort* cluster_;
    InspectorPort* inspector_ = nullptr;
    uint64_t next_conn_id_ = 1;
    bool draining_ = false;
    std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
};

}  // namespace rt
