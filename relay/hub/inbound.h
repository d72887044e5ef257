// The loop's inbound port: everything the other threads (the database pool, the slot
// stream, the cluster mesh, the node registry, the JWKS file watcher) hand to the loop
// thread. Every call is safe from any thread and returns at once: the message is queued
// and the loop handles it on its next turn (never the caller's time, never a lock held
// by the loop). The relay implements it on the loop's mailbox (loop_inbound.h); tests
// with recorders.
//
// cluster/ knows the loop only through this header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "relay/core/events.h"
#include "relay/core/inspect.h"

namespace rt {

struct Jwks;

// The sender's side of a hand-over to the loop: told, on the loop thread, in order, once
// the loop has processed what it was given and the clients' sockets took its frames (or
// their connections closed, hub/write_ledger): a document of this node's slot stream (so
// the slot may be acknowledged past it), or a change from the slot holder through the
// mesh (so this node may confirm it to the holder).
class SlotProgress {
public:
    // held_floor: the lowest commit LSN the loop still holds undelivered (0: none).
    virtual void processed(uint64_t commit_lsn, uint64_t held_floor) = 0;

protected:
    ~SlotProgress() = default;
};

class LoopInbound {
public:
    virtual ~LoopInbound() = default;

    // -- the database pool --------------------------------------------------------------
    virtual void subscribe_result(SubscribeResult r) = 0;
    // Bindings the database ended (a refreshed token's role may not have them).
    virtual void bindings_ended(std::vector<BindingNotice> notices) = 0;
    virtual void access_result(AccessResult r) = 0;
    virtual void replay_result(ReplayResult r) = 0;

    // -- the slot stream (this node holds the slot) ---------------------------------------
    virtual void slot_change(ChangeEvent ev, SlotProgress& progress) = 0;
    virtual void slot_broadcast(BroadcastMsg msg, SlotProgress& progress) = 0;  // realtime.send

    // -- the cluster mesh ---------------------------------------------------------------
    virtual void peer_change(ChangeEvent ev, SlotProgress& progress) = 0;  // from the slot holder
    virtual void peer_broadcast(BroadcastMsg msg) = 0;
    virtual void peer_presence(std::string node, PresenceDelta delta) = 0;
    virtual void peer_presence_snapshot(std::string node, std::vector<PresenceDelta> entries) = 0;
    virtual void peer_presence_gone(std::string node) = 0;  // down, or a new incarnation
    virtual void presence_snapshot_wanted(std::string node) = 0;  // a peer asks for ours
    virtual void channel_routed(std::string key) = 0;  // every peer routes the channel here (its key)
    virtual void inspect_query(std::string node, InspectQuery q) = 0;     // a peer's inspector asks
    virtual void inspect_answer(std::string node, InspectAnswer a) = 0;   // a peer answers ours
    // A peer adopted subscriptions parked here and asks for what was kept for them.
    virtual void kept_asked(std::string node, KeptAsk ask) = 0;
    virtual void kept_handed(std::string node, KeptHandOver handed) = 0;  // a peer's answer to ours

    // -- the node registry --------------------------------------------------------------
    // Which of this node's subscription rows still exist after it was silent long enough
    // for the slot holder to remove them.
    virtual void subscriptions_present(std::unordered_set<int64_t> ids) = 0;

    // -- the --jwt-jwks file ------------------------------------------------------------
    // A new version of the file, parsed: its keys verify every token from now on.
    virtual void jwks_loaded(std::shared_ptr<const Jwks> keys) = 0;
};

}  // namespace rt
