// Where each plugin document goes, on the slot holder: a row change or a SUBSCRIBED
// document to every node in its targets (this node's loop, or that node through the
// mesh, as the postgres_changes payload clients receive), and a realtime.send broadcast
// to the peers and to this node's loop. What goes to the loop is counted as handed over
// (AckTracker) and reported back when processed. Pure logic: the loop and the peers are
// ports.
#pragma once

#include <cstdint>
#include <string>

#include "relay/core/metrics.h"
#include "relay/hub/inbound.h"
#include "relay/slot/ack_tracker.h"
#include "relay/slot/plugin_doc.h"

namespace rt {

// The slot holder's way to the other nodes (the mesh: slot/mesh_peers.h). Changes and SQL
// broadcasts go through one sender, so every node receives them in commit order.
class SlotPeers {
public:
    virtual ~SlotPeers() = default;
    virtual bool change(const std::string& node, const ChangeEvent& ev) = 0;  // false: cannot be reached
    virtual void broadcast(const BroadcastMsg& msg) = 0;
};

class SlotRouter {
public:
    SlotRouter(std::string node_id, Metrics& metrics, LoopInbound& loop, SlotPeers* peers, AckTracker& ack)
        : node_id_(std::move(node_id)), metrics_(metrics), loop_(loop), peers_(peers), ack_(ack) {}

    // now_us: the document's arrival (monotonic), for the decode-to-send latency.
    void route(PluginDoc&& doc, int64_t now_us);

private:
    void to_node(const std::string& node, ChangeEvent&& ev);

    const std::string node_id_;
    Metrics& metrics_;
    LoopInbound& loop_;
    SlotPeers* peers_;  // null without a cluster
    AckTracker& ack_;
};

}  // namespace rt
