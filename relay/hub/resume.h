// Resuming after a crash: the subscription rows a previous run of this node left behind
// (orphans) are kept for --resume-grace; a client that rejoins with the same topic,
// bindings and claims (role and subject) adopts them, and the changes that arrived for
// them meanwhile are replayed to it. The slot must not be acknowledged past a change
// still held (held_floor).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "relay/core/config.h"
#include "relay/core/metrics.h"
#include "relay/hub/model.h"
#include "relay/hub/ports.h"

namespace rt {

class Resume {
public:
    Resume(const Config& cfg, const LoopClock& clock, Metrics& metrics, DbPort* db)
        : cfg_(cfg), clock_(clock), metrics_(metrics), db_(db) {}

    void adopt_orphans(std::vector<OrphanRow> rows);  // this node's rows left by a crash
    // m's bindings take the ids of matching orphans (all or none) and m.replay their
    // held changes; false when some binding has no orphan to adopt.
    bool try_adopt(Member& m, const Claims& claims);
    bool holds(int64_t id) const { return orphans_.count(id) > 0; }
    // Keeps ev's group for the orphan id (if it is one) until it is adopted or expires.
    void hold(int64_t id, const ChangeEvent& ev, const ChangeGroup& group);
    // Past the grace period, orphans nobody adopted are unsubscribed; call ~1/s.
    void expire();

    // Lowest commit LSN still held for orphans (0: none).
    uint64_t held_floor() const { return held_floor_; }
    size_t count() const { return orphans_.size(); }

private:
    struct Orphan {
        OrphanRow row;
        std::vector<ChangeEvent> held;
        int64_t held_bytes = 0;
    };

    bool match(const Member& m, const Claims& claims, std::vector<int64_t>& chosen) const;
    void recompute_held_floor();

    const Config& cfg_;
    const LoopClock& clock_;
    Metrics& metrics_;
    DbPort* db_;
    std::unordered_map<int64_t, Orphan> orphans_;
    int64_t deadline_ms_ = 0;
    uint64_t held_floor_ = 0;
};

}  // namespace rt
