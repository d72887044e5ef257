// Which relay may stream the slot, with regions: relays in the database's region take it
// first; a relay elsewhere takes it only after no relay of that region has held it for
// the takeover delay, and gives it back when one of them is up and competing. Pure logic.
#pragma once

#include <cstdint>

namespace rt::cluster {

struct ElectionFacts {
    bool in_slot_region = true;
    int64_t now_ms = 0;
    int64_t started_ms = 0;             // this relay's start
    int64_t last_region_holder_ms = 0;  // a relay of the slot's region last held it (0: never)
    bool region_competitor_up = false;  // a relay of the slot's region is up and competing
    int64_t takeover_ms = 0;
};

inline bool may_take(const ElectionFacts& f) {
    if (f.in_slot_region) return true;
    if (f.region_competitor_up) return false;
    int64_t since = f.last_region_holder_ms > f.started_ms ? f.last_region_holder_ms : f.started_ms;
    return f.now_ms - since >= f.takeover_ms;
}

inline bool must_release(const ElectionFacts& f) { return !f.in_slot_region && f.region_competitor_up; }

}  // namespace rt::cluster
