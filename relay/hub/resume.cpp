// Orphaned subscriptions: adoption by a rejoining client, held changes, expiry.
#include "relay/hub/resume.h"

#include <algorithm>

#include "relay/core/log.h"
#include "relay/protocol/payloads.h"

namespace rt {
namespace {

constexpr int64_t kMaxHeldBytesPerOrphan = 16 << 20;

bool same_binding(const BindingSpec& a, const BindingSpec& b) {
    return a.event == b.event && a.schema == b.schema && a.table == b.table && a.filter == b.filter;
}

// A held change (one group) as the member that adopted `chosen` receives it: only its own ids.
ChangeEvent for_member(ChangeEvent&& ev, const std::vector<int64_t>& chosen) {
    for (ChangeGroup& g : ev.groups) {
        std::vector<int64_t> own;
        for (int64_t id : g.ids)
            if (std::find(chosen.begin(), chosen.end(), id) != chosen.end()) own.push_back(id);
        if (own.size() != g.ids.size()) g = payloads::narrowed(g, std::move(own));
    }
    return std::move(ev);
}

}  // namespace

void Resume::adopt_orphans(std::vector<OrphanRow> rows) {
    for (OrphanRow& row : rows) {
        int64_t id = row.id;
        orphans_[id].row = std::move(row);
    }
    deadline_ms_ = clock_.mono_ms + static_cast<int64_t>(cfg_.resume_grace_s) * 1000;
    if (!orphans_.empty())
        LOG_INFO("keeping %zu subscriptions of a previous run of this node for %d s, for their clients to resume",
                 orphans_.size(), cfg_.resume_grace_s);
    expire();
}

// The orphan ids m's bindings would adopt, in binding order; false unless all match.
bool Resume::match(const Member& m, const Claims& claims, std::vector<int64_t>& chosen) const {
    for (const Binding& b : m.bindings) {
        int64_t found = 0;
        for (auto& [id, o] : orphans_) {
            if (std::find(chosen.begin(), chosen.end(), id) != chosen.end()) continue;
            if (same_binding(o.row.spec, b.spec) && o.row.role == claims.role && o.row.sub == claims.sub) {
                found = id;
                break;
            }
        }
        if (!found) return false;
        chosen.push_back(found);
    }
    return true;
}

bool Resume::try_adopt(Member& m, const Claims& claims) {
    if (orphans_.empty()) return false;
    std::vector<int64_t> chosen;
    if (!match(m, claims, chosen)) return false;
    for (size_t i = 0; i < chosen.size(); ++i) {
        Orphan& o = orphans_[chosen[i]];
        m.bindings[i].id = chosen[i];
        m.bindings[i].live = true;  // it was in the decoder before the crash
        for (ChangeEvent& ev : o.held) m.replay.push_back(for_member(std::move(ev), chosen));
        orphans_.erase(chosen[i]);
    }
    // Replays of several adopted ids may repeat a change: one event per position, with
    // each distinct group of it once (ids in different column views are different groups).
    std::stable_sort(m.replay.begin(), m.replay.end(), [](const ChangeEvent& a, const ChangeEvent& b) {
        return !(b.pos <= a.pos);
    });
    std::vector<ChangeEvent> merged;
    for (ChangeEvent& ev : m.replay) {
        bool same = !merged.empty() && merged.back().pos.commit_lsn == ev.pos.commit_lsn &&
                    merged.back().pos.change_index == ev.pos.change_index;
        if (!same) {
            merged.push_back(std::move(ev));
            continue;
        }
        for (ChangeGroup& g : ev.groups) {
            auto& groups = merged.back().groups;
            bool known = std::any_of(groups.begin(), groups.end(),
                                     [&](const ChangeGroup& h) { return h.payload == g.payload; });
            if (!known) groups.push_back(std::move(g));
        }
    }
    m.replay = std::move(merged);
    LOG_INFO("connection %llu resumed %zu subscriptions with %zu held changes",
             static_cast<unsigned long long>(m.conn->id), chosen.size(), m.replay.size());
    recompute_held_floor();
    return true;
}

void Resume::hold(int64_t id, const ChangeEvent& ev, const ChangeGroup& group) {
    auto it = orphans_.find(id);
    if (it == orphans_.end()) return;
    Orphan& o = it->second;
    if (o.held_bytes + static_cast<int64_t>(group.payload.size()) > kMaxHeldBytesPerOrphan) {
        metrics_.dropped_messages++;
        return;
    }
    o.held_bytes += static_cast<int64_t>(group.payload.size());
    ChangeEvent held;
    held.kind = ev.kind;
    held.pos = ev.pos;
    held.received_us = ev.received_us;
    held.groups.push_back(group);
    o.held.push_back(std::move(held));
    recompute_held_floor();
}

void Resume::expire() {
    if (orphans_.empty() || clock_.mono_ms < deadline_ms_) return;
    std::vector<int64_t> ids;
    for (auto& [id, o] : orphans_) ids.push_back(id);
    LOG_INFO("removing %zu subscriptions of a previous run that no client resumed", ids.size());
    orphans_.clear();
    recompute_held_floor();
    if (db_) db_->unsubscribe(std::move(ids));
}

void Resume::recompute_held_floor() {
    uint64_t floor = 0;
    for (auto& [id, o] : orphans_)
        if (!o.held.empty() && (floor == 0 || o.held.front().pos.commit_lsn < floor))
            floor = o.held.front().pos.commit_lsn;
    held_floor_ = floor;
}

}  // namespace rt
