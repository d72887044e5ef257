// Presence state of every channel, for the whole cluster: who is tracked under which
// key, with which metadata, owned by which node. Produces the `presence_state` and
// `presence_diff` payloads. Pure logic, no I/O.
//
// An entry is owned by one connection's membership of one channel: (node, owner) where
// node is "" for this relay and owner is the membership id on the owning node. Tracking
// again from the same owner is an update: the old meta leaves and the new one joins
// with phx_ref_prev, as Phoenix does. Channels are named by their key
// (topic::channel_key), so a private channel's presence is apart from its topic's
// public one, here and in the deltas peers exchange.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "relay/core/events.h"

namespace rt {

// A change to one channel's presence, as JSON for presence_diff.
struct PresenceDiff {
    std::string topic;  // the channel's key
    std::string json;  // {"joins":{...},"leaves":{...}}
};

class PresenceStore {
public:
    // Adds or replaces the entry of (node, owner) in topic; returns the diff.
    PresenceDiff track(const std::string& topic, PresenceEntry entry);
    // Removes the entry of (node, owner) in topic; false (and no diff) if it had none.
    bool untrack(const std::string& topic, std::string_view node, uint64_t owner, PresenceDiff& diff);
    // Removes every entry of node (a peer that went down, or a new incarnation).
    std::vector<PresenceDiff> remove_node(std::string_view node);
    // Makes entries the whole state of node (a peer's snapshot); diffs only for changes.
    std::vector<PresenceDiff> replace_node(std::string_view node, const std::vector<std::pair<std::string, PresenceEntry>>& entries);
    // Visits every entry of node (snapshots for peers).
    void for_each_of_node(std::string_view node,
                          const std::function<void(const std::string&, const PresenceEntry&)>& fn) const;

    const PresenceEntry* find(const std::string& topic, std::string_view node, uint64_t owner) const;
    // Every node's entries of topic (none: an empty list).
    const std::vector<PresenceEntry>& of_topic(const std::string& topic) const;
    std::string state_json(const std::string& topic) const;  // {"key":{"metas":[...]},...}
    size_t entries() const { return count_; }

private:
    using Entries = std::vector<PresenceEntry>;
    std::unordered_map<std::string, Entries> topics_;
    size_t count_ = 0;
};

// JSON of one meta as clients see it: the tracked object plus phx_ref (and phx_ref_prev).
void append_meta_json(std::string& out, const PresenceEntry& e);

}  // namespace rt
