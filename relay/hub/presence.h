// Presence as the hub runs it: a member's track and untrack (its own entry, replicated
// to peers), peers' entries as the mesh hands them over, and presence_state /
// presence_diff to the members that enabled presence. The state itself is the
// PresenceStore's (presence_store.h).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "relay/core/config.h"
#include "relay/core/metrics.h"
#include "relay/hub/channels.h"
#include "relay/hub/output.h"
#include "relay/hub/ports.h"
#include "relay/hub/presence_store.h"

namespace rt {

class Presence {
public:
    Presence(const Limits& limits, Channels& channels, Output& out, Metrics& metrics, ClusterPort* cluster);

    // A "presence" push of a joined member: {"event":"track","payload":{...}} or untrack
    // (the event in any case). Returns the reason the member's channel must close for (a
    // meta over --max-payload-bytes), else nullopt.
    std::optional<std::string> handle(Connection& conn, Member& m, const phoenix::Inbound& msg);
    void untrack(Member& m);                 // the member leaves (or untracks)
    void send_state(Member& m);              // presence_state of its channel, to m

    // Peers' entries (from the mesh).
    void apply_remote(const std::string& node, const PresenceDelta& delta);
    void remove_remote(const std::string& node);  // a peer went down
    void replace_remote(const std::string& node, const std::vector<PresenceDelta>& entries);
    // This node's own entries (a snapshot for a peer).
    void for_each_local(const std::function<void(const PresenceDelta&)>& fn) const;
    void send_snapshot(const std::string& to);  // to the peer that asked

    const PresenceStore& store() const { return store_; }

private:
    std::optional<std::string> handle_track(Connection& conn, Member& m, const phoenix::Inbound& msg);
    void track(Member& m, std::string meta_json);
    void fanout_diff(const PresenceDiff& diff);
    void count_entries();
    std::string next_phx_ref();

    const Limits& limits_;
    Channels& channels_;
    Output& out_;
    Metrics& metrics_;
    ClusterPort* cluster_;
    PresenceStore store_;
    uint64_t next_ref_ = 1;
};

}  // namespace rt
