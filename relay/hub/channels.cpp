// Channels: membership, cluster routing of a channel, and the broadcast fan-out.
#include "relay/hub/channels.h"

#include <algorithm>

#include "relay/core/topic.h"
#include "relay/protocol/broadcast_frames.h"

namespace rt {
namespace {

uint64_t slot_lsn(const BroadcastMsg& msg) { return msg.pos.valid() ? msg.pos.commit_lsn : 0; }

void erase_member(std::vector<Member*>& list, Member* m) { list.erase(std::remove(list.begin(), list.end(), m), list.end()); }

}  // namespace

Channel& Channels::get(const std::string& topic, bool is_private) {
    std::string key = topic::channel_key(topic, is_private);
    auto it = channels_.find(key);
    if (it != channels_.end()) return *it->second;
    auto ch = std::make_unique<Channel>();
    ch->key = key;
    ch->topic = topic;
    ch->is_private = is_private;
    Channel& ref = *ch;
    channels_.emplace(std::move(key), std::move(ch));
    metrics_.channels.store(static_cast<int64_t>(channels_.size()));
    return ref;
}

Channel* Channels::find(const std::string& key) const {
    auto it = channels_.find(key);
    return it == channels_.end() ? nullptr : it->second.get();
}

void Channels::add(Member& m) {
    Channel& ch = *m.channel;
    m.slot = ch.members.size();
    ch.members.push_back(&m);
}

void Channels::remove(Member& m) {
    Channel& ch = *m.channel;
    Member* last = ch.members.back();
    ch.members[m.slot] = last;
    last->slot = m.slot;
    ch.members.pop_back();
}

bool Channels::wait_for_route(Member& m) {
    Channel& ch = *m.channel;
    if (cluster_ && !ch.interest) {
        ch.interest = true;
        ch.routed = false;
        cluster_->channel_interest(ch.key, true);
    }
    if (ch.routed) return true;
    ch.routing.push_back(&m);
    return false;
}

std::vector<Member*> Channels::routed(const std::string& key) {
    std::vector<Member*> waiting;
    Channel* ch = find(key);
    if (!ch || ch->routed) return waiting;
    ch->routed = true;
    waiting.swap(ch->routing);
    return waiting;
}

void Channels::stop_waiting(Member& m) {
    erase_member(m.channel->routing, &m);
    stop_holding(m);
}

void Channels::release(Channel& ch, bool in_use) {
    if (!ch.members.empty() || !ch.routing.empty() || !ch.replaying.empty()) return;
    // The cluster routes a channel's messages here while it has members.
    if (ch.interest) {
        ch.interest = false;
        ch.routed = true;
        cluster_->channel_interest(ch.key, false);
    }
    if (in_use) return;
    channels_.erase(std::string(ch.key));
    metrics_.channels.store(static_cast<int64_t>(channels_.size()));
}

void Channels::hold(Member& m) { m.channel->replaying.push_back(&m); }

void Channels::stop_holding(Member& m) { erase_member(m.channel->replaying, &m); }

void Channels::publish(const BroadcastMsg& msg, const Member* skip, bool to_peers) {
    if (msg.pos.valid() && !replay_.fresh(msg.pos)) {
        metrics_.changes_duplicate++;
        return;
    }
    if (Channel* ch = find(topic::channel_key(msg.topic, msg.is_private))) fanout(*ch, msg, skip);
    if (to_peers && cluster_) cluster_->publish_broadcast(msg);
}

// Collect, then drain once per member: a private member receives broadcasts only when
// its policies let it read them, and never one its join's replay covered.
void Channels::fanout(Channel& ch, const BroadcastMsg& msg, const Member* skip) {
    metrics_.broadcasts++;
    ch.broadcasts++;
    BroadcastFrames frames(msg);
    uint64_t queued = 0;  // counted once, not per member
    for (Member* m : ch.members) {
        if (m == skip || !m->reads_broadcasts() || m->covered_by_replay(msg.id, slot_lsn(msg))) continue;
        if (msg.sent_ms && m->joined_wall_ms > msg.sent_ms) continue;  // sent before it joined (fault 3)
        const FrameRef* frame = frames.for_vsn(m->conn->vsn);
        if (!frame) {
            metrics_.dropped_messages++;
            continue;
        }
        out_.enqueue(*m->conn, *frame);
        ++queued;
    }
    metrics_.broadcast_deliveries += queued;
    for (Member* m : ch.replaying) {
        if (m == skip || !m->reads_broadcasts()) continue;
        if (const FrameRef* frame = frames.for_vsn(m->conn->vsn)) keep(*m, msg, *frame);
    }
}

void Channels::keep(Member& m, const BroadcastMsg& msg, FrameRef frame) {
    if (m.conn->closing) return;
    m.held_bytes += static_cast<int64_t>(frame->size());
    if (!out_.fits(*m.conn, m.conn->queue.bytes() + m.held_bytes)) {
        m.held.clear();
        return;
    }
    m.held.push_back({msg.id, slot_lsn(msg), std::move(frame)});
}

}  // namespace rt
