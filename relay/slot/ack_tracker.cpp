// The slot's acknowledgement position.
#include "relay/slot/ack_tracker.h"

#include <algorithm>

namespace rt {

void AckTracker::restart(uint64_t stream) {
    hand_over_.restart(stream);
    received_lsn_ = 0;
    reached_.clear();
    last_sent_ = 0;
    router_floor_ = 0;
}

void AckTracker::reached(uint64_t lsn, int64_t now_ms) {
    if (lsn <= received_lsn_) return;
    received_lsn_ = lsn;
    if (!reached_.empty() && reached_.back().first == now_ms)
        reached_.back().second = lsn;
    else
        reached_.emplace_back(now_ms, lsn);
}

uint64_t AckTracker::position(int64_t) const {
    // All handed over and written: the stream's position. Otherwise what the loop finished.
    uint64_t received = received_lsn_;
    uint64_t ack = done_.load() == posted_.load() ? received : std::min(done_lsn_.load(), received);
    uint64_t floor = held_floor_.load();
    if (floor && floor < ack) ack = floor;  // a change held for a resuming client is replayed
    if (router_floor_ && router_floor_ < ack) ack = router_floor_;  // not handed on yet
    uint64_t peers = hand_over_.floor();
    if (peers && peers < ack) ack = peers;  // a change a node has not confirmed is resent from here
    return ack;
}

uint64_t AckTracker::confirm(int64_t now_ms) {
    uint64_t ack = position(now_ms);
    if (ack < last_sent_) ack = last_sent_;  // never move backwards
    while (reached_.size() > 1 && reached_[1].second <= ack) reached_.pop_front();
    last_sent_ = ack;
    return ack;
}

// After confirm() at most the first entry is at or below the confirmed position.
int64_t AckTracker::waiting_ms(int64_t now_ms) const {
    for (const auto& [at, lsn] : reached_)
        if (lsn > last_sent_) return now_ms > at ? now_ms - at : 0;
    return 0;
}

void AckTracker::processed(uint64_t commit_lsn, uint64_t held_floor) {
    if (commit_lsn) done_lsn_.store(commit_lsn);
    held_floor_.store(held_floor);
    done_.fetch_add(1);
}

}  // namespace rt
