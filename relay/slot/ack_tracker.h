// What the slot holder may acknowledge to Postgres: a position is confirmed only once
// every document up to it was handed over to this node's loop and its frames were taken
// by the clients' sockets (the loop reports it then, hub/write_ledger), and every change
// sent to another node below it was confirmed by that node (the hand-over, hand_over.h:
// its floor; nodes confirm what their sockets took too). A change still held for a resuming client holds it back
// (the loop's held floor), and so does a document the router has not handed on yet
// (waiting for a row level security check, or behind one). Never moves backwards.
//
// Pure logic: no I/O, the clock is the caller's. The slot stream calls everything but
// processed(), which the loop thread calls (through SlotProgress) and which is the only
// state shared between the two threads (atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <utility>

#include "relay/hub/inbound.h"
#include "relay/slot/hand_over.h"

namespace rt {

class AckTracker : public SlotProgress {
public:
    explicit AckTracker(HandOverBounds bounds = {}) : hand_over_(bounds) {}

    // -- the slot stream --------------------------------------------------------------
    // A new stream of the slot (stream: its hand-over id): nothing received or
    // acknowledged on it yet, nothing kept for peers.
    void restart(uint64_t stream = 0);
    HandOver& hand_over() { return hand_over_; }
    // The stream showed lsn at now_ms (a document's commit, or a keepalive's WAL end:
    // everything before a keepalive has been sent to us).
    void reached(uint64_t lsn, int64_t now_ms);
    // A document went to the loop, which will call processed() for it.
    void handed_over() { posted_.fetch_add(1); }
    // The commit LSN of the first document the router still holds (0: none): nothing
    // from it on may be confirmed (Postgres sends a transaction again when its commit is
    // at the confirmed position).
    void hold_below(uint64_t commit_lsn) { router_floor_ = commit_lsn; }
    // The position that could be confirmed now.
    uint64_t position(int64_t now_ms) const;
    // The position to confirm in a status update sent now (and remembered as sent).
    uint64_t confirm(int64_t now_ms);
    uint64_t last_confirmed() const { return last_sent_; }
    // How long the oldest position reached but not yet confirmed has waited (0: none):
    // the slot's lag in time, beside its lag in bytes.
    int64_t waiting_ms(int64_t now_ms) const;

    // -- the loop thread --------------------------------------------------------------
    void processed(uint64_t commit_lsn, uint64_t held_floor) override;

private:
    HandOver hand_over_;
    uint64_t received_lsn_ = 0;  // safe position seen in the stream (documents and keepalives)
    // Positions with the time they were reached, oldest first.
    std::deque<std::pair<int64_t, uint64_t>> reached_;
    uint64_t last_sent_ = 0;
    uint64_t router_floor_ = 0;
    std::atomic<uint64_t> posted_{0};
    std::atomic<uint64_t> done_{0};
    std::atomic<uint64_t> done_lsn_{0};
    std::atomic<uint64_t> held_floor_{0};
};

}  // namespace rt
