// The hub's Postgres Changes: subscription ids bound to memberships, the delivery of
// change documents to the channels whose bindings they match, the "Subscribed to
// PostgreSQL" announcement once the decoder has a subscription, and the adoption of
// subscriptions a crashed run of this node left behind.
#include "relay/hub/hub.h"
#include "relay/core/clock.h"
#include "relay/core/log.h"

#include <algorithm>
#include <chrono>

namespace rt {
namespace {

constexpr int64_t kMaxHeldBytesPerOrphan = 16 << 20;
constexpr size_t kMaxLiveBeforeBound = 100000;

bool same_binding(const BindingSpec& a, const BindingSpec& b) {
    return a.event == b.event && a.schema == b.schema && a.table == b.table && a.filter == b.filter;
}

// The event as one member receives it: "ids" narrowed to that member's own matching ids
// (Supabase sends each channel its own ids; the node's list would leak other clients'
// subscription ids and grow every message with the number of subscribers).
ChangeEvent narrowed(const ChangeEvent& ev, std::vector<int64_t> own) {
    ChangeEvent out;
    out.kind = ev.kind;
    out.pos = ev.pos;
    out.received_us = ev.received_us;
    std::string_view payload = ev.payload;
    size_t end = payload.find(']');  // payload is {"ids":[<integers>],"data":...}
    out.payload = "{\"ids\":[";
    for (size_t i = 0; i < own.size(); ++i) {
        if (i) out.payload.push_back(',');
        out.payload += std::to_string(own[i]);
    }
    if (end != std::string_view::npos) out.payload.append(payload.substr(end));
    out.ids = std::move(own);
    return out;
}

}  // namespace

// -- bindings -------------------------------------------------------------------------

void Hub::register_bindings(Member& m) {
    for (Binding& b : m.bindings) {
        bindings_by_id_[b.id] = &m;
        if (live_before_bound_.erase(b.id)) b.live = true;
    }
    metrics_.subscriptions.store(static_cast<int64_t>(bindings_by_id_.size()));
}

void Hub::release_bindings(Member& m) {
    std::vector<int64_t> ids;
    for (const Binding& b : m.bindings) {
        if (b.id == 0) continue;
        bindings_by_id_.erase(b.id);
        ids.push_back(b.id);
    }
    metrics_.subscriptions.store(static_cast<int64_t>(bindings_by_id_.size()));
    if (!ids.empty() && db_) db_->unsubscribe(std::move(ids));
}

void Hub::on_subscribe_result(SubscribeResult&& r) {
    auto it = pending_joins_.find(r.member_id);
    if (it == pending_joins_.end()) {
        // The channel was left or replaced meanwhile: undo what the database did.
        if (r.ok && !r.ids.empty() && db_) db_->unsubscribe(std::move(r.ids));
        return;
    }
    Member& m = *it->second;
    pending_joins_.erase(it);
    if (!r.ok || r.ids.size() != m.bindings.size()) {
        std::string response = "{\"reason\":";
        json::append_string(response, r.ok ? "subscription count mismatch" : r.error);
        response.push_back('}');
        std::optional<std::string_view> ref;
        if (m.pending_ref) ref = *m.pending_ref;
        send_reply(*m.conn, m.join_ref, ref, m.channel->topic, "error", response);
        if (r.ok && db_) db_->unsubscribe(std::move(r.ids));
        remove_member(m, false);
        return;
    }
    for (size_t i = 0; i < r.ids.size(); ++i) m.bindings[i].id = r.ids[i];
    complete_join(m);
}

void Hub::drop_lost_subscriptions(const std::unordered_set<int64_t>& present) {
    std::vector<Member*> lost;
    for (const auto& [id, m] : bindings_by_id_)
        if (!present.count(id) && std::find(lost.begin(), lost.end(), m) == lost.end()) lost.push_back(m);
    for (Member* m : lost) {
        LOG_WARN("channel %s of connection %llu lost its subscriptions while this node was cut off; asking it to rejoin",
                 m->channel->topic.c_str(), static_cast<unsigned long long>(m->conn->id));
        send_system(*m, "postgres_changes", "error",
                    "Subscription to PostgreSQL lost while this node was cut off from the cluster; rejoining");
        push(*m->conn, m->join_ref, m->channel->topic, "phx_error", "{}", m->join_ref);
        remove_member(*m, false);
    }
}

void Hub::announce_if_live(Member& m) {
    if (!m.joined || m.announced || m.bindings.empty()) return;
    for (const Binding& b : m.bindings)
        if (!b.live) return;
    m.announced = true;
    send_system(m, "postgres_changes", "ok", "Subscribed to PostgreSQL");
}

// -- change documents -----------------------------------------------------------------

void Hub::deliver_change(const ChangeEvent& ev) {
    metrics_.changes_received++;
    if (ev.pos.valid()) {
        if (ev.pos <= delivered_) {
            metrics_.changes_duplicate++;
            return;
        }
        delivered_ = ev.pos;
    }
    if (ev.kind == ChangeEvent::Kind::Subscribed) {
        for (int64_t id : ev.ids) {
            auto it = bindings_by_id_.find(id);
            if (it == bindings_by_id_.end()) {
                // The database's answer to the join has not reached us yet.
                if (!orphans_.count(id)) {
                    if (live_before_bound_.size() >= kMaxLiveBeforeBound) live_before_bound_.clear();
                    live_before_bound_.insert(id);
                }
                continue;
            }
            Member& m = *it->second;
            for (Binding& b : m.bindings)
                if (b.id == id) b.live = true;
            announce_if_live(m);
        }
        return;
    }
    deliver_row(ev);
}

void Hub::deliver_row(const ChangeEvent& ev) {
    const uint64_t stamp = ++change_stamp_;
    std::vector<Member*> targets;
    std::vector<std::vector<int64_t>> own_ids;  // per target, its ids among ev.ids
    for (int64_t id : ev.ids) {
        auto it = bindings_by_id_.find(id);
        if (it != bindings_by_id_.end()) {
            Member* m = it->second;
            if (m->change_stamp != stamp) {
                m->change_stamp = stamp;
                targets.push_back(m);
                own_ids.push_back({id});
            } else {
                // A second matching binding of the member: usually the last one seen.
                size_t t = targets.size();
                while (t > 0 && targets[t - 1] != m) --t;
                own_ids[t - 1].push_back(id);
            }
            continue;
        }
        auto orphan = orphans_.find(id);
        if (orphan != orphans_.end()) hold_for_orphan(orphan->second, ev);
    }
    // Members of one channel share its frames: serialize once per channel and version.
    // Only a member all of whose ids are the event's can use ev.payload as it is; the
    // others get their own ids.
    std::vector<size_t> order(targets.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return targets[a]->channel < targets[b]->channel; });
    FrameRef cache[2];
    const Channel* cached_for = nullptr;
    for (size_t i : order) {
        Member* m = targets[i];
        if (own_ids[i].size() != ev.ids.size()) {
            send_change(*m, narrowed(ev, std::move(own_ids[i])), nullptr);
            continue;
        }
        if (m->channel != cached_for) {
            cache[0].reset();
            cache[1].reset();
            cached_for = m->channel;
        }
        send_change(*m, ev, cache);
    }
    if (!targets.empty() && ev.received_us)
        metrics_.decode_to_send.observe_ms(static_cast<double>(mono_us() - ev.received_us) / 1000.0);
}

void Hub::send_change(Member& m, const ChangeEvent& ev, FrameRef* cache) {
    Connection& conn = *m.conn;
    FrameRef local;
    FrameRef& frame = cache ? cache[static_cast<size_t>(conn.vsn)] : local;
    if (!frame) {
        std::string buf = frame_buffer(ev.payload.size() + m.channel->topic.size() + 48);
        phoenix::encode(buf, conn.vsn, std::nullopt, std::nullopt, m.channel->topic, "postgres_changes", ev.payload);
        frame = make_frame(std::move(buf), false);
    }
    metrics_.changes_delivered++;
    enqueue(conn, frame);
}

// -- subscriptions left by a crash ----------------------------------------------------

void Hub::adopt_orphans(std::vector<OrphanRow> rows) {
    for (OrphanRow& row : rows) {
        int64_t id = row.id;
        orphans_[id].row = std::move(row);
    }
    orphans_deadline_ms_ = now_ms_ + static_cast<int64_t>(cfg_.resume_grace_s) * 1000;
    if (!orphans_.empty())
        LOG_INFO("keeping %zu subscriptions of a previous run of this node for %d s, for their clients to resume",
                 orphans_.size(), cfg_.resume_grace_s);
    expire_orphans();
}

bool Hub::try_adopt(Member& m, const Claims& claims) {
    if (orphans_.empty()) return false;
    std::vector<int64_t> chosen;
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
    for (size_t i = 0; i < chosen.size(); ++i) {
        Orphan& o = orphans_[chosen[i]];
        m.bindings[i].id = chosen[i];
        m.bindings[i].live = true;  // it was in the decoder before the crash
        for (ChangeEvent& ev : o.held) {
            std::vector<int64_t> own;  // the held event's ids that are now this member's
            for (int64_t id : ev.ids)
                if (std::find(chosen.begin(), chosen.end(), id) != chosen.end()) own.push_back(id);
            m.replay.push_back(own.size() == ev.ids.size() ? std::move(ev) : narrowed(ev, std::move(own)));
        }
        orphans_.erase(chosen[i]);
    }
    // Replays of several adopted ids may repeat a change: keep one per position.
    std::stable_sort(m.replay.begin(), m.replay.end(), [](const ChangeEvent& a, const ChangeEvent& b) {
        return !(b.pos <= a.pos);
    });
    m.replay.erase(std::unique(m.replay.begin(), m.replay.end(),
                               [](const ChangeEvent& a, const ChangeEvent& b) {
                                   return a.pos.commit_lsn == b.pos.commit_lsn &&
                                          a.pos.change_index == b.pos.change_index;
                               }),
                   m.replay.end());
    LOG_INFO("connection %llu resumed %zu subscriptions with %zu held changes",
             static_cast<unsigned long long>(m.conn->id), chosen.size(), m.replay.size());
    recompute_held_floor();
    return true;
}

void Hub::hold_for_orphan(Orphan& o, const ChangeEvent& ev) {
    if (o.held_bytes + static_cast<int64_t>(ev.payload.size()) > kMaxHeldBytesPerOrphan) {
        metrics_.dropped_messages++;
        return;
    }
    o.held_bytes += static_cast<int64_t>(ev.payload.size());
    o.held.push_back(ev);
    recompute_held_floor();
}

void Hub::expire_orphans() {
    if (orphans_.empty() || now_ms_ < orphans_deadline_ms_) return;
    std::vector<int64_t> ids;
    for (auto& [id, o] : orphans_) ids.push_back(id);
    LOG_INFO("removing %zu subscriptions of a previous run that no client resumed", ids.size());
    orphans_.clear();
    recompute_held_floor();
    if (db_) db_->unsubscribe(std::move(ids));
}

void Hub::recompute_held_floor() {
    uint64_t floor = 0;
    for (auto& [id, o] : orphans_)
        if (!o.held.empty() && (floor == 0 || o.held.front().pos.commit_lsn < floor))
            floor = o.held.front().pos.commit_lsn;
    held_floor_ = floor;
}

}  // namespace rt
