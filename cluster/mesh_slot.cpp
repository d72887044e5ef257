// The mesh's side of the slot election (issue 14, faults 4 and 5): the facts it gathers
// from membership and the registry for the slot stream (a majority of the live nodes,
// regions, hung holders, a holder heard again after a gap), and the stalls of its own
// thread, after which this node may have been taken over.
#include <algorithm>

#include "cluster/mesh.h"
#include "cluster/slot_election.h"
#include "relay/core/clock.h"
#include "relay/core/log.h"

namespace rt::cluster {

void Mesh::set_slot_state(bool competes, bool holding) {
    competes_ = competes;
    holding_ = holding;
}

// Under mu_.
ElectionFacts Mesh::election_facts() const {
    return {cfg_.region == cfg_.slot_region(), mono_ms(),           started_ms_, last_region_holder_ms_,
            region_competitor_up_,             static_cast<int64_t>(cfg_.region_takeover_s) * 1000, majority_};
}

bool Mesh::may_take_slot() {
    std::lock_guard<std::mutex> lock(mu_);
    return may_take(election_facts());
}

bool Mesh::should_release_slot() {
    std::lock_guard<std::mutex> lock(mu_);
    return must_release(election_facts());
}

bool Mesh::holder_returned_after(int64_t gap_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    if (holder_gap_ms_ <= gap_ms) return false;
    holder_gap_ms_ = 0;
    return true;
}

// A node stopped (SIGSTOP, swapping) past the stall period may have been taken over
// meanwhile (issue 14, fault 5): its heartbeats stop saying it holds the slot before the
// next one goes out; the slot stream notices too and lets go before it acts as holder.
void Mesh::notice_stall(int64_t now) {
    if (last_turn_ms_ && now - last_turn_ms_ > cfg_.stall_ms() && holding_.exchange(false))
        LOG_WARN("cluster: the mesh did not run for %lld ms: this node may have lost the slot meanwhile",
                 static_cast<long long>(now - last_turn_ms_));
    last_turn_ms_ = now;
}

std::vector<std::string> Mesh::hung_holders() {
    std::lock_guard<std::mutex> lock(mu_);
    return hung_;
}

// Under mu_, each turn of the mesh thread.
void Mesh::refresh_election(int64_t now) {
    bool majority = sees_majority(cfg_.node_id, registry_live_, membership_.up_peers());
    if (majority != majority_)
        LOG_INFO("cluster: this node %s a majority of the %zu live nodes (%zu up peers)%s",
                 majority ? "sees" : "no longer sees", registry_live_.size() + 1, membership_.up_count(),
                 majority ? "" : ": it does not stream the slot");
    majority_ = majority;
    hung_ = majority ? membership_.hung_holders(now, cfg_.holder_silence_ms()) : std::vector<std::string>{};
}

}  // namespace rt::cluster
