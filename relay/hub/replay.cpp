// Replay at join: the hold, the query, and the delivery across the seam.
#include "relay/hub/replay.h"

#include "relay/core/json.h"
#include "relay/core/log.h"
#include "relay/core/topic.h"
#include "relay/protocol/broadcast_frames.h"
#include "relay/protocol/errors.h"

namespace rt {
namespace {

// A stored message as a replayed broadcast: meta {"replayed": true, "id"} (Supabase's).
BroadcastMsg replayed_message(const Channel& ch, const ReplayRow& row) {
    BroadcastMsg b;
    b.topic = ch.topic;
    b.is_private = true;
    b.event = row.event;
    b.payload = row.payload;
    b.json_payload = !row.binary;
    b.id = row.id;
    b.meta_json = "{\"replayed\":true,\"id\":";
    json::append_string(b.meta_json, row.id);
    b.meta_json.push_back('}');
    return b;
}

}  // namespace

void Replay::start(Member& m) {
    channels_.hold(m);
    uint64_t ticket = next_ticket_++;
    pending_[ticket] = &m;
    ReplayQuery q;
    q.topic = std::string(topic::sub_topic(m.channel->topic));
    q.since = m.replay_request.since;
    q.limit = m.replay_request.limit;
    port_->replay(m.conn->id, ticket, std::move(q));
}

Member* Replay::take(uint64_t ticket) {
    auto it = pending_.find(ticket);
    if (it == pending_.end()) return nullptr;
    Member* m = it->second;
    pending_.erase(it);
    channels_.stop_holding(*m);
    return m;
}

void Replay::forget(const Member& m) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second == &m)
            it = pending_.erase(it);
        else
            ++it;
    }
}

// A held message from the slot committed before the replay's read was visible to it:
// the replay returned it, or left it out as older than its window (limit, since), as
// Supabase does; it is dropped. The rest go out live, unless the replay returned them.
void Replay::deliver(Member& m, const ReplayResult& r) {
    metrics_.replays++;
    Connection& conn = *m.conn;
    m.replay_read_lsn = r.read_lsn;
    for (const ReplayRow& row : r.rows) {
        m.replayed_ids.push_back(row.id);
        BroadcastMsg b = replayed_message(*m.channel, row);
        BroadcastFrames frames(b);
        if (const FrameRef* f = frames.for_vsn(conn.vsn)) out_.enqueue(conn, *f);  // binary: not to 1.0.0
    }
    for (Member::Held& h : m.held)
        if (!m.covered_by_replay(h.id, h.commit_lsn)) out_.enqueue(conn, std::move(h.frame));
    m.held.clear();
    m.held.shrink_to_fit();
    m.held_bytes = 0;
}

std::string Replay::refusal(const ReplayResult& r) {
    LOG_WARN("replay failed: %s", r.error.c_str());
    return r.failure == ReplayResult::Failure::InvalidParams ? errors::kReplayParams : errors::kReplayFailed;
}

}  // namespace rt
