// Presence state and its state/diff payloads.
#include "relay/hub/presence_store.h"

#include <algorithm>

#include "relay/core/json.h"

namespace rt {
namespace {

// Appends {"key":{"metas":[...]},...} for entries, grouped by key in first-seen order.
void append_grouped(std::string& out, const std::vector<const PresenceEntry*>& entries) {
    std::vector<std::string_view> keys;
    std::unordered_map<std::string_view, std::vector<const PresenceEntry*>> by_key;
    for (const PresenceEntry* e : entries) {
        auto& group = by_key[e->key];
        if (group.empty()) keys.push_back(e->key);
        group.push_back(e);
    }
    out.push_back('{');
    for (size_t k = 0; k < keys.size(); ++k) {
        if (k) out.push_back(',');
        json::append_string(out, keys[k]);
        out += ":{\"metas\":[";
        const auto& group = by_key[keys[k]];
        for (size_t i = 0; i < group.size(); ++i) {
            if (i) out.push_back(',');
            append_meta_json(out, *group[i]);
        }
        out += "]}";
    }
    out.push_back('}');
}

std::string diff_json(const std::vector<const PresenceEntry*>& joins,
                      const std::vector<const PresenceEntry*>& leaves) {
    std::string out = "{\"joins\":";
    append_grouped(out, joins);
    out += ",\"leaves\":";
    append_grouped(out, leaves);
    out.push_back('}');
    return out;
}

}  // namespace

void append_meta_json(std::string& out, const PresenceEntry& e) {
    out += "{\"phx_ref\":";
    json::append_string(out, e.phx_ref);
    if (!e.phx_ref_prev.empty()) {
        out += ",\"phx_ref_prev\":";
        json::append_string(out, e.phx_ref_prev);
    }
    // meta_json is an object: splice its members after ours.
    std::string_view m = e.meta_json;
    size_t open = m.find('{');
    size_t close = m.rfind('}');
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
        std::string_view inner = m.substr(open + 1, close - open - 1);
        if (inner.find_first_not_of(" \t\r\n") != std::string_view::npos) {
            out.push_back(',');
            out.append(inner);
        }
    }
    out.push_back('}');
}

PresenceDiff PresenceStore::track(const std::string& topic, PresenceEntry entry) {
    Entries& entries = topics_[topic];
    auto it = std::find_if(entries.begin(), entries.end(), [&](const PresenceEntry& e) {
        return e.owner == entry.owner && e.node == entry.node;
    });
    PresenceDiff diff{topic, {}};
    if (it == entries.end()) {
        entries.push_back(std::move(entry));
        ++count_;
        diff.json = diff_json({&entries.back()}, {});
        return diff;
    }
    PresenceEntry old = std::move(*it);
    if (entry.phx_ref_prev.empty()) entry.phx_ref_prev = old.phx_ref;
    *it = std::move(entry);
    diff.json = diff_json({&*it}, {&old});
    return diff;
}

bool PresenceStore::untrack(const std::string& topic, std::string_view node, uint64_t owner, PresenceDiff& diff) {
    auto t = topics_.find(topic);
    if (t == topics_.end()) return false;
    Entries& entries = t->second;
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const PresenceEntry& e) { return e.owner == owner && e.node == node; });
    if (it == entries.end()) return false;
    PresenceEntry old = std::move(*it);
    entries.erase(it);
    --count_;
    if (entries.empty()) topics_.erase(t);
    diff.topic = topic;
    diff.json = diff_json({}, {&old});
    return true;
}

std::vector<PresenceDiff> PresenceStore::remove_node(std::string_view node) {
    std::vector<PresenceDiff> diffs;
    for (auto t = topics_.begin(); t != topics_.end();) {
        Entries& entries = t->second;
        auto gone = std::stable_partition(entries.begin(), entries.end(),
                                          [&](const PresenceEntry& e) { return e.node != node; });
        if (gone != entries.end()) {
            std::vector<const PresenceEntry*> leaves;
            for (auto it = gone; it != entries.end(); ++it) leaves.push_back(&*it);
            diffs.push_back({t->first, diff_json({}, leaves)});
            count_ -= static_cast<size_t>(entries.end() - gone);
            entries.erase(gone, entries.end());
        }
        if (entries.empty())
            t = topics_.erase(t);
        else
            ++t;
    }
    return diffs;
}

std::vector<PresenceDiff> PresenceStore::replace_node(
    std::string_view node, const std::vector<std::pair<std::string, PresenceEntry>>& entries) {
    std::unordered_map<std::string, std::vector<const PresenceEntry*>> incoming;
    for (const auto& [topic, e] : entries) incoming[topic].push_back(&e);
    for (const auto& [topic, list] : topics_)
        for (const PresenceEntry& e : list)
            if (e.node == node) incoming[topic];  // topics where node has entries now

    std::vector<PresenceDiff> diffs;
    for (auto& [topic, fresh] : incoming) {
        Entries& list = topics_[topic];
        auto gone = std::stable_partition(list.begin(), list.end(), [&](const PresenceEntry& e) { return e.node != node; });
        Entries old(std::make_move_iterator(gone), std::make_move_iterator(list.end()));
        list.erase(gone, list.end());
        count_ -= old.size();

        std::vector<const PresenceEntry*> leaves;
        for (const PresenceEntry& o : old) {
            bool kept = std::any_of(fresh.begin(), fresh.end(), [&](const PresenceEntry* f) {
                return f->owner == o.owner && f->phx_ref == o.phx_ref;
            });
            if (!kept) leaves.push_back(&o);
        }
        std::vector<size_t> joined;
        for (const PresenceEntry* f : fresh) {
            bool known = std::any_of(old.begin(), old.end(), [&](const PresenceEntry& o) {
                return f->owner == o.owner && f->phx_ref == o.phx_ref;
            });
            PresenceEntry e = *f;
            e.node = std::string(node);
            list.push_back(std::move(e));
            ++count_;
            if (!known) joined.push_back(list.size() - 1);
        }
        if (!joined.empty() || !leaves.empty()) {
            std::vector<const PresenceEntry*> joins;
            for (size_t i : joined) joins.push_back(&list[i]);
            diffs.push_back({topic, diff_json(joins, leaves)});
        }
        if (list.empty()) topics_.erase(topic);
    }
    return diffs;
}

void PresenceStore::for_each_of_node(
    std::string_view node, const std::function<void(const std::string&, const PresenceEntry&)>& fn) const {
    for (const auto& [topic, entries] : topics_)
        for (const PresenceEntry& e : entries)
            if (e.node == node) fn(topic, e);
}

const std::vector<PresenceEntry>& PresenceStore::of_topic(const std::string& topic) const {
    static const Entries kNone;
    auto t = topics_.find(topic);
    return t == topics_.end() ? kNone : t->second;
}

const PresenceEntry* PresenceStore::find(const std::string& topic, std::string_view node, uint64_t owner) const {
    auto t = topics_.find(topic);
    if (t == topics_.end()) return nullptr;
    for (const PresenceEntry& e : t->second)
        if (e.owner == owner && e.node == node) return &e;
    return nullptr;
}

std::string PresenceStore::state_json(const std::string& topic) const {
    std::vector<const PresenceEntry*> all;
    auto t = topics_.find(topic);
    if (t != topics_.end())
        for (const PresenceEntry& e : t->second) all.push_back(&e);
    std::string out;
    append_grouped(out, all);
    return out;
}

}  // namespace rt
