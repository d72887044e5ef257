// The slot holder as one component: the stream (I/O), the acknowledgement tracker, the
// router and its check step on the database pool, wired together. A document flows
// stream -> plugin_doc (parsed once) -> router (checks made through check_pool) -> this
// node's loop (LoopInbound) or peers (SlotPeers); the loop reports what it processed
// back to the tracker, and the stream confirms what the tracker allows.
#pragma once

#include <memory>
#include <string>

#include "relay/core/config.h"
#include "relay/core/metrics.h"
#include "relay/hub/inbound.h"
#include "relay/io/db_pool.h"
#include "relay/slot/ack_tracker.h"
#include "relay/slot/check_pool.h"
#include "relay/slot/router.h"
#include "relay/slot/stream.h"

namespace rt {

class SlotHolder {
public:
    // peers: null without a cluster (changes for other nodes are then dropped, counted).
    // pool: where row level security checks run (the clients' pool).
    SlotHolder(const Config& cfg, Metrics& metrics, LoopInbound& loop, SlotPeers* peers, DbPool& pool,
               SlotElection election)
        : ack_(bounds(cfg)),
          checks_(std::make_unique<PoolChecks>(pool, cfg.rls_check_timeout_ms)),
          router_(cfg.node_id, metrics, loop, peers, ack_, checks_.get()),
          stream_(cfg, metrics, ack_, router_, inbox_, std::move(election)) {}

    void start() { stream_.start(); }
    void stop() { stream_.stop(); }  // releases the slot
    bool holding() const { return stream_.holding(); }
    // Where the mesh reports what peers confirm (Mesh::set_holder_link).
    cluster::HolderLink& link() { return inbox_; }

private:
    static HandOverBounds bounds(const Config& cfg) {
        HandOverBounds b;
        b.max_bytes = cfg.handover_backlog_bytes;
        b.max_age_ms = cfg.gone_after_ms();
        return b;
    }

    HandOverInbox inbox_;
    AckTracker ack_;
    std::unique_ptr<PoolChecks> checks_;
    SlotRouter router_;
    SlotStream stream_;
};

}  // namespace rt
