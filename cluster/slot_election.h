// Which relay may stream the slot. A majority first (issue 14, fault 4): a relay that
// cannot see a majority of the cluster's live nodes (the node registry in Postgres says
// which are live, the mesh which it hears) never takes the slot and gives it back, so a
// holder cut off from its peers but not from Postgres lets the majority side take over.
// Then regions: relays in the database's region take it first; a relay elsewhere takes
// it only after no relay of that region has held it for the takeover delay, and gives it
// back when one of them is up and competing. Pure logic.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace rt::cluster {

// This node with the peers it hears, against the live nodes (those the registry lists as
// beating, those heard, and this one): more than half, or exactly half when this side
// has the lowest live node id (two nodes, or an even split, still leave one side able
// to stream; both sides read the same registry, so they agree on which).
inline bool sees_majority(const std::string& self, std::vector<std::string> live, std::vector<std::string> heard) {
    heard.push_back(self);
    std::sort(heard.begin(), heard.end());
    heard.erase(std::unique(heard.begin(), heard.end()), heard.end());
    live.insert(live.end(), heard.begin(), heard.end());
    std::sort(live.begin(), live.end());
    live.erase(std::unique(live.begin(), live.end()), live.end());
    if (heard.size() * 2 > live.size()) return true;
    return heard.size() * 2 == live.size() && heard.front() == live.front();
}

struct ElectionFacts {
    bool in_slot_region = true;
    int64_t now_ms = 0;
    int64_t started_ms = 0;             // this relay's start
    int64_t last_region_holder_ms = 0;  // a relay of the slot's region last held it (0: never)
    bool region_competitor_up = false;  // a relay of the slot's region is up and competing
    int64_t takeover_ms = 0;
    bool majority = true;               // sees_majority
};

inline bool may_take(const ElectionFacts& f) {
    if (!f.majority) return false;
    if (f.in_slot_region) return true;
    if (f.region_competitor_up) return false;
    int64_t since = f.last_region_holder_ms > f.started_ms ? f.last_region_holder_ms : f.started_ms;
    return f.now_ms - since >= f.takeover_ms;
}

// Peers are down after --peer-down-ms of silence, so a holder without a majority has not
// seen one for that long: it gives the slot back at once.
inline bool must_release(const ElectionFacts& f) {
    return !f.majority || (!f.in_slot_region && f.region_competitor_up);
}

}  // namespace rt::cluster
