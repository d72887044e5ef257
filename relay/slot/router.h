// Where each plugin document goes, on the slot holder, decided once here: a row change to
// every node it concerns (targets, views, failed), each node getting only what its own
// subscribers may receive (slot/change_plan), with the checks of row level security's
// general path made first (slot/check_batcher, run through a CheckPort); a SUBSCRIBED
// document to the nodes in its targets; a realtime.send broadcast to the peers and to
// this node's loop. Everything leaves in commit order per node (slot/delivery_queue);
// the slot is never acknowledged past a document still waiting. What goes to this
// node's loop is counted as handed over (AckTracker) and reported back when processed;
// what goes to another node is kept by the hand-over (slot/hand_over) until that node
// confirms it, and resent when due.
// Pure logic: the loop, the peers and the checks are ports. Runs on the slot stream's
// thread.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "relay/core/metrics.h"
#include "relay/hub/inbound.h"
#include "relay/slot/ack_tracker.h"
#include "relay/slot/change_plan.h"
#include "relay/slot/check_batcher.h"
#include "relay/slot/delivery_queue.h"
#include "relay/slot/plugin_doc.h"

namespace rt {

class CheckPort;

// The slot holder's way to the other nodes (the mesh: slot/mesh_peers.h). Changes and SQL
// broadcasts go through one sender, so every node receives them in commit order.
class SlotPeers {
public:
    virtual ~SlotPeers() = default;
    // A change for node, numbered in the hand-over; false: the mesh is saturated (the
    // hand-over resends it).
    virtual bool change(const std::string& node, const HandOverTag& tag, const ChangeEvent& ev) = 0;
    virtual void base_notice(const std::string& node, const HandOverTag& tag) = 0;
    virtual void broadcast(const BroadcastMsg& msg) = 0;
};

class SlotRouter : private DeliverySink {
public:
    // checks: null when checks cannot be made (no database pool): their candidates get
    // nothing and are told.
    SlotRouter(std::string node_id, Metrics& metrics, LoopInbound& loop, SlotPeers* peers, AckTracker& ack,
               CheckPort* checks)
        : node_id_(std::move(node_id)), metrics_(metrics), loop_(loop), peers_(peers), ack_(ack), checks_(checks) {}

    // now_us: the document's arrival (monotonic), for the decode-to-send latency.
    void route(PluginDoc&& doc, int64_t now_us);
    // The outcomes of finished checks: their documents go on (the slot stream calls it
    // when the CheckPort's wake fd is readable).
    void service();
    int wake_fd() const;  // readable when service() has work; -1: never
    // A new stream of the slot: documents still waiting are dropped (Postgres sends
    // them again, from the acknowledged position), calls in flight are forgotten.
    void restart();

    // The hand-over's resends that are due now; gone: nodes it gave up on now.
    void hand_over_due(int64_t now_ms, std::vector<std::string>& gone);

    size_t waiting() const { return queue_.size(); }

private:
    struct Waiting {  // one document's check in flight
        uint64_t seq;
        CheckedViews views;
    };

    void route_row(PluginDoc& doc, Outgoing& out);
    void finish(uint64_t call, const CheckOutcome& outcome);
    void start(CheckCall&& call);
    void release();
    void change(const std::string& node, ChangeEvent&& ev) override;
    void send(const HandOver::Send& s);
    void deliver(const std::string& node, ChangeEvent&& ev);
    void recover(const std::string& node, const ChangeEvent& subscribed);
    void report_backlog();
    void broadcast(BroadcastMsg&& msg) override;

    const std::string node_id_;
    Metrics& metrics_;
    LoopInbound& loop_;
    SlotPeers* peers_;  // null without a cluster
    AckTracker& ack_;
    CheckPort* checks_;
    CheckBatcher batcher_;
    DeliveryQueue queue_;
    ToldOnce told_;
    std::unordered_map<uint64_t, Waiting> waiting_;  // ticket -> document
    uint64_t next_ticket_ = 1;
    // The clock of the last route() or hand_over_due() (the stream calls one of them each
    // turn): when what release() hands on was kept for its node.
    int64_t now_ms_ = 0;
};

}  // namespace rt
