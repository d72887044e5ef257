// Postgres Changes: bindings by id, the routing of change events to members, and the
// "Subscribed to PostgreSQL" announcement.
#include "relay/hub/changes.h"

#include <algorithm>

#include "relay/core/clock.h"
#include "relay/protocol/errors.h"
#include "relay/protocol/payloads.h"

namespace rt {
namespace {

constexpr size_t kMaxLiveBeforeBound = 100000;
constexpr size_t kMaxReplayBeforeReply = 100000;  // changes kept for a member awaiting its join reply
constexpr size_t kMaxEarly = 100000;              // rows kept for ids whose database answer is not in yet

}  // namespace

void Changes::bind(Member& m) {
    for (Binding& b : m.bindings) {
        if (b.failed()) continue;  // refused at subscribe: no row
        bindings_by_id_[b.id] = &m;
        if (live_before_bound_.erase(b.id)) b.live = true;
        auto early = early_.find(b.id);
        if (early == early_.end()) continue;
        early_count_ -= early->second.size();
        for (ChangeEvent& ev : early->second) m.replay.push_back(std::move(ev));  // before the reply, in order
        early_.erase(early);
    }
    metrics_.subscriptions.store(static_cast<int64_t>(bindings_by_id_.size()));
}

void Changes::release(Member& m) {
    std::vector<int64_t> ids;
    for (const Binding& b : m.bindings) {
        if (b.id <= 0 || b.ended) continue;  // no row: not subscribed yet, refused, or ended and removed
        bindings_by_id_.erase(b.id);
        ids.push_back(b.id);
    }
    metrics_.subscriptions.store(static_cast<int64_t>(bindings_by_id_.size()));
    if (!ids.empty() && db_ && !keep_rows_) db_->unsubscribe(std::move(ids));
}

std::vector<ChangeEvent> Changes::park(Member& m) {
    for (const Binding& b : m.bindings)
        if (b.id > 0) bindings_by_id_.erase(b.id);
    metrics_.subscriptions.store(static_cast<int64_t>(bindings_by_id_.size()));
    std::vector<ChangeEvent> unsent;
    Connection& conn = *m.conn;
    const size_t suffix = phoenix::unreffed_suffix_size(conn.vsn);
    for (const QueuedChange& q : conn.queued_changes) {
        if (q.member != m.id || q.seq < conn.queue.written()) continue;
        std::string_view message(q.frame->buf.data() + kHeadroom, q.frame->size());
        if (message.size() < suffix + q.payload_size) continue;
        ChangeEvent ev;
        ev.pos = q.pos;
        ChangeGroup g;
        g.payload.assign(message.substr(message.size() - suffix - q.payload_size, q.payload_size));
        g.ids = payloads::ids_of(g.payload);
        ev.groups.push_back(std::move(g));
        unsent.push_back(std::move(ev));
    }
    return unsent;
}

std::vector<Member*> Changes::lost(const std::unordered_set<int64_t>& present) const {
    std::vector<Member*> lost;
    for (const auto& [id, m] : bindings_by_id_)
        if (!present.count(id) && std::find(lost.begin(), lost.end(), m) == lost.end()) lost.push_back(m);
    return lost;
}

// Once every binding that was subscribed is live (failed ones had their system error).
void Changes::announce_if_live(Member& m) {
    if (!m.joined || m.announced) return;
    bool any = false;
    for (const Binding& b : m.bindings) {
        if (b.failed()) continue;  // refused at subscribe: it never goes live
        if (!b.live) return;
        any = true;
    }
    if (!any) return;
    m.announced = true;
    out_.system(m, "postgres_changes", "ok", errors::kSubscribedToPostgres);
    // Adopted from a node that died with what it kept: told after what the holder handed
    // over (it comes before the rows' SUBSCRIBED) and what waits for the reply (m.replay,
    // then told by the join).
    if (m.missed_why == Member::Missed::NodeDied && m.missed_since_s && m.replay.empty()) {
        out_.system(m, "postgres_changes", "error", errors::resume_node_died(iso8601_utc(m.missed_since_s)));
        m.missed_since_s = 0;
    }
}

void Changes::deliver(const ChangeEvent& ev) {
    delivering_ = ledger_.last();
    fan_out(ev);
    delivering_ = 0;
}

void Changes::fan_out(const ChangeEvent& ev) {
    metrics_.changes_received++;
    if (ev.kind == ChangeEvent::Kind::Recovered) {
        deliver_recovered(ev);
        return;
    }
    if (ev.pos.valid() && !replay_.fresh(ev.pos)) {
        metrics_.changes_duplicate++;
        return;
    }
    if (ev.kind == ChangeEvent::Kind::Subscribed) {
        for (const ChangeGroup& g : ev.groups) mark_live(g.ids);
        return;
    }
    for (const ChangeGroup& g : ev.groups) deliver_group(ev, g);
    for (const BindingNotice& n : ev.notices) notify(n);
}

void Changes::mark_live(const std::vector<int64_t>& ids) {
    for (int64_t id : ids) {
        auto it = bindings_by_id_.find(id);
        if (it == bindings_by_id_.end()) {
            // The database's answer to the join has not reached us yet.
            if (resume_.holds(id)) {
                resume_.mark_live(id);
            } else {
                if (live_before_bound_.size() >= kMaxLiveBeforeBound) live_before_bound_.clear();
                live_before_bound_.insert(id);
            }
            continue;
        }
        Member& m = *it->second;
        for (Binding& b : m.bindings)
            if (b.id == id) b.live = true;
        if (!m.joined && live_before_reply_) live_before_reply_(m);
        announce_if_live(m);
    }
}

void Changes::deliver_group(const ChangeEvent& ev, const ChangeGroup& group) {
    const uint64_t stamp = ++change_stamp_;
    std::vector<Member*> targets;
    std::vector<std::vector<int64_t>> own_ids;  // per target, its ids among group.ids
    for (int64_t id : group.ids) {
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
        if (!resume_.holds(id) && live_before_bound_.count(id))
            keep_early(id, ev, group);  // live before the database answered the join
        else
            resume_.hold(id, ev, group);
    }
    // Members of one channel share its frames: serialize once per channel and version.
    // Only a member all of whose ids are the group's can use its payload as it is; the
    // others get their own ids.
    std::vector<size_t> order(targets.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return targets[a]->channel < targets[b]->channel; });
    FrameRef cache[2];
    const Channel* cached_for = nullptr;
    for (size_t i : order) {
        Member* m = targets[i];
        if (!m->joined) {
            keep_for_reply(*m, ev, group, std::move(own_ids[i]));
            continue;
        }
        if (own_ids[i].size() != group.ids.size()) {
            send(*m, ev.pos, payloads::narrowed(group, std::move(own_ids[i])), nullptr);
            continue;
        }
        if (m->channel != cached_for) {
            cache[0].reset();
            cache[1].reset();
            cached_for = m->channel;
        }
        send(*m, ev.pos, group, cache);
    }
    if (!targets.empty() && ev.received_us)
        metrics_.decode_to_send.observe_ms(static_cast<double>(mono_us() - ev.received_us) / 1000.0);
}

// The slot holder tells a binding something: a system error on its channel; an ended
// binding receives nothing more, and its row goes.
void Changes::notify(const BindingNotice& n) {
    auto it = bindings_by_id_.find(n.id);
    if (it == bindings_by_id_.end()) return;  // gone, or another run's (the plugin says it again)
    Member& m = *it->second;
    out_.system(m, "postgres_changes", "error", n.message);
    if (!n.ended) return;
    bindings_by_id_.erase(it);
    for (Binding& b : m.bindings)
        if (b.id == n.id) b.ended = true;
    metrics_.subscriptions.store(static_cast<int64_t>(bindings_by_id_.size()));
    if (db_) db_->unsubscribe({n.id});
}

void Changes::claims_changed(Member& m, const std::string& claims_json) {
    std::vector<int64_t> ids;
    for (const Binding& b : m.bindings)
        if (b.id > 0 && !b.ended) ids.push_back(b.id);
    if (!ids.empty() && db_) db_->update_claims(m.conn->id, std::move(ids), claims_json);
}

// m's join is not answered yet (the cluster routes its channel): the group follows the reply.
void Changes::keep_for_reply(Member& m, const ChangeEvent& ev, const ChangeGroup& group,
                             std::vector<int64_t>&& own) {
    if (m.replay.size() >= kMaxReplayBeforeReply) {
        metrics_.dropped_messages++;
        return;
    }
    m.replay.push_back(with_group(ev, own.size() == group.ids.size() ? group : payloads::narrowed(group, std::move(own))));
}

// A row the slot holder kept for a subscription that moved here, from before the move
// (hub/resume): older than what this node delivered, so its replay guard does not apply;
// each member gets it once (its own latest position, Member::delivered).
void Changes::deliver_recovered(const ChangeEvent& ev) {
    for (const ChangeGroup& g : ev.groups) {
        std::vector<std::pair<Member*, std::vector<int64_t>>> to;
        for (int64_t id : g.ids) {
            auto it = bindings_by_id_.find(id);
            if (it == bindings_by_id_.end()) {
                keep_early(id, ev, g);
                continue;
            }
            auto t = std::find_if(to.begin(), to.end(), [&](const auto& p) { return p.first == it->second; });
            if (t == to.end())
                to.push_back({it->second, {id}});
            else
                t->second.push_back(id);
        }
        for (auto& [m, own] : to) {
            if (m->delivered.valid() && ev.pos <= m->delivered) {
                metrics_.changes_duplicate++;
                continue;
            }
            if (!m->joined) {
                keep_for_reply(*m, ev, g, std::move(own));
                continue;
            }
            send(*m, ev.pos, own.size() == g.ids.size() ? g : payloads::narrowed(g, std::move(own)), nullptr);
        }
    }
}

void Changes::keep_early(int64_t id, const ChangeEvent& ev, const ChangeGroup& group) {
    if (early_count_ >= kMaxEarly) {  // answers that never came: forget them all
        early_.clear();
        early_count_ = 0;
    }
    ChangeEvent kept;
    kept.kind = ev.kind;
    kept.pos = ev.pos;
    ChangeGroup own;
    own.ids = {id};
    own.payload = group.ids.size() == 1 ? group.payload : payloads::postgres_changes_with_ids(group.payload, own.ids);
    kept.groups.push_back(std::move(own));
    early_[id].push_back(std::move(kept));
    ++early_count_;
}

void Changes::send(Member& m, const ChangePos& pos, const ChangeGroup& group, FrameRef* cache) {
    if (pos.valid() && !(pos <= m.delivered)) m.delivered = pos;
    Connection& conn = *m.conn;
    FrameRef local;
    FrameRef& frame = cache ? cache[static_cast<size_t>(conn.vsn)] : local;
    if (!frame) {
        std::string buf = frame_buffer(group.payload.size() + m.channel->topic.size() + 48);
        phoenix::encode(buf, conn.vsn, std::nullopt, std::nullopt, m.channel->topic, "postgres_changes", group.payload);
        frame = make_frame(std::move(buf), false);
    }
    metrics_.changes_delivered++;
    const uint64_t seq = conn.queue.pushed();
    out_.enqueue(conn, frame);
    if (conn.queue.pushed() != seq) track(conn, m, pos, group, frame);
}

// Remembers a change frame until the socket took it, so a close before that parks it
// with the member's subscriptions instead of losing it, and counts it against its change
// in the ledger (the change is confirmed once its frames are written).
void Changes::track(Connection& conn, const Member& m, const ChangePos& pos, const ChangeGroup& group,
                    const FrameRef& frame) {
    written(conn);
    if (delivering_) ledger_.queued(delivering_);
    conn.queued_changes.push_back(
        {conn.queue.pushed() - 1, m.id, delivering_, pos, frame, static_cast<uint32_t>(group.payload.size())});
}

void Changes::written(Connection& conn) {
    auto& q = conn.queued_changes;
    const uint64_t written = conn.queue.written();
    size_t done = 0;
    for (; done < q.size() && q[done].seq < written; ++done)
        if (q[done].change) ledger_.taken(q[done].change);
    if (done) q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(done));
    if (q.empty() && q.capacity() > 64) std::vector<QueuedChange>().swap(q);
}

void Changes::dropped(Connection& conn) {
    for (const QueuedChange& q : conn.queued_changes)
        if (q.change) ledger_.taken(q.change);
    conn.queued_changes.clear();
}

}  // namespace rt
