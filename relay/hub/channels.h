// The channels of this node: which members each has, whether the cluster routes the
// channel's broadcasts here yet, and the one path every broadcast takes to members and
// peers, whatever its origin (a client's push, the REST API, realtime.send through the
// slot, another node). A channel is a topic and its privacy (topic::channel_key): a
// private message reaches only the private channel's members that may read broadcasts.
// Like Redis's pubsub.c: it owns the channel maps and never touches a socket (frames go
// out through Output).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "relay/core/metrics.h"
#include "relay/hub/model.h"
#include "relay/hub/output.h"
#include "relay/hub/ports.h"
#include "relay/hub/replay_guard.h"

namespace rt {

class Channels {
public:
    Channels(Output& out, Metrics& metrics, ClusterPort* cluster, ReplayGuard& replay)
        : out_(out), metrics_(metrics), cluster_(cluster), replay_(replay) {}

    Channel& get(const std::string& topic, bool is_private);  // created on first use
    Channel* find(const std::string& key) const;               // by topic::channel_key
    size_t count() const { return channels_.size(); }
    template <typename Fn>
    void for_each(Fn fn) const {  // fn(const Channel&), in no particular order
        for (const auto& [topic, ch] : channels_) fn(*ch);
    }

    // -- membership -----------------------------------------------------------------
    void add(Member& m);     // m is joined: it receives the channel's messages
    void remove(Member& m);  // a joined member leaves (O(1): the last takes its slot)

    // -- routing through the cluster --------------------------------------------------
    // True when m's channel is routed here; otherwise m waits in ch.routing. The first
    // member makes the node listen to the channel: peers must learn to send its
    // broadcasts here before the join is answered, or its first messages would be lost.
    bool wait_for_route(Member& m);
    // The cluster routes topic here now: the members that waited, to be admitted.
    std::vector<Member*> routed(const std::string& topic);
    void stop_waiting(Member& m);
    // ch lost a member: without members or waiting joins the node stops listening to it,
    // and unless a join still being prepared points at it (in_use), it is forgotten.
    void release(Channel& ch, bool in_use);

    // -- the seam of a replay (hub/replay) ------------------------------------------------
    // m's broadcasts are held (Member::held) from now on, until stop_holding: a replay's
    // query runs meanwhile, and what it does not return arrives here.
    void hold(Member& m);
    void stop_holding(Member& m);

    // -- broadcasts ---------------------------------------------------------------------
    // The one publish path: drops replays (by slot position) and private messages, fans
    // msg out to the channel's members but skip, and hands it to peers when to_peers
    // (messages that entered the cluster here: client pushes, the REST API).
    void publish(const BroadcastMsg& msg, const Member* skip, bool to_peers);

private:
    void fanout(Channel& ch, const BroadcastMsg& msg, const Member* skip);
    void keep(Member& m, const BroadcastMsg& msg, FrameRef frame);  // a held member's frame

    Output& out_;
    Metrics& metrics_;
    ClusterPort* cluster_;
    ReplayGuard& replay_;
    std::unordered_map<std::string, std::unique_ptr<Channel>> channels_;
};

}  // namespace rt
