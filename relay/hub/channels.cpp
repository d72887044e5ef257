// Channels: membership, cluster routing of a channel, and the broadcast fan-out.
#include "relay/hub/channels.h"

#include <algorithm>

#include "relay/protocol/payloads.h"

namespace rt {

Channel& Channels::get(const std::string& topic) {
    auto it = channels_.find(topic);
    if (it != channels_.end()) return *it->second;
    auto ch = std::make_unique<Channel>();
    ch->topic = topic;
    Channel& ref = *ch;
    channels_.emplace(topic, std::move(ch));
    metrics_.channels.store(static_cast<int64_t>(channels_.size()));
    return ref;
}

Channel* Channels::find(const std::string& topic) const {
    auto it = channels_.find(topic);
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
        cluster_->channel_interest(ch.topic, true);
    }
    if (ch.routed) return true;
    ch.routing.push_back(&m);
    return false;
}

std::vector<Member*> Channels::routed(const std::string& topic) {
    std::vector<Member*> waiting;
    Channel* ch = find(topic);
    if (!ch || ch->routed) return waiting;
    ch->routed = true;
    waiting.swap(ch->routing);
    return waiting;
}

void Channels::stop_waiting(Member& m) {
    auto& routing = m.channel->routing;
    routing.erase(std::remove(routing.begin(), routing.end(), &m), routing.end());
}

void Channels::release(Channel& ch, bool in_use) {
    if (!ch.members.empty() || !ch.routing.empty()) return;
    // The cluster routes a channel's messages here while it has members.
    if (ch.interest) {
        ch.interest = false;
        ch.routed = true;
        cluster_->channel_interest(ch.topic, false);
    }
    if (in_use) return;
    channels_.erase(std::string(ch.topic));
    metrics_.channels.store(static_cast<int64_t>(channels_.size()));
}

void Channels::publish(const BroadcastMsg& msg, const Member* skip, bool to_peers) {
    if (msg.pos.valid() && !replay_.fresh(msg.pos)) {
        metrics_.changes_duplicate++;
        return;
    }
    // A private message (realtime.send's default) is for private channels only, and
    // none can be joined until their authorization exists: never to public members.
    if (msg.is_private) return;
    if (Channel* ch = find(msg.topic)) fanout(*ch, msg, skip);
    if (to_peers && cluster_) cluster_->publish_broadcast(msg);
}

// Collect, then drain once per member: each frame (v1 text, v2 text, v2 binary kind 4)
// is built the first time a member needs it and shared by the others.
void Channels::fanout(Channel& ch, const BroadcastMsg& msg, const Member* skip) {
    metrics_.broadcasts++;
    FrameRef v1, v2_text, v2_binary;
    bool v2_binary_ok = true;
    std::string payload;  // the text form's payload, built on first use
    auto text_frame = [&](phoenix::Vsn vsn) {
        if (payload.empty()) payload = payloads::broadcast(msg);
        std::string buf = frame_buffer(payload.size() + msg.topic.size() + 48);
        phoenix::encode(buf, vsn, std::nullopt, std::nullopt, msg.topic, "broadcast", payload);
        return make_frame(std::move(buf), false);
    };
    for (Member* m : ch.members) {
        if (m == skip) continue;
        Connection& conn = *m->conn;
        FrameRef* frame = nullptr;
        if (conn.vsn == phoenix::Vsn::V1) {
            if (!msg.json_payload) {  // raw bytes cannot travel in JSON
                metrics_.dropped_messages++;
                continue;
            }
            if (!v1) v1 = text_frame(phoenix::Vsn::V1);
            frame = &v1;
        } else if ((msg.binary_origin || !msg.json_payload) && v2_binary_ok) {
            if (!v2_binary) {
                std::string buf = frame_buffer(msg.payload.size() + msg.topic.size() + 32);
                v2_binary_ok = phoenix::encode_user_broadcast(buf, msg.topic, msg.event, msg.meta_json,
                                                              msg.json_payload, msg.payload);
                if (v2_binary_ok) v2_binary = make_frame(std::move(buf), true);
            }
            if (v2_binary_ok) {
                frame = &v2_binary;
            } else if (msg.json_payload) {
                if (!v2_text) v2_text = text_frame(phoenix::Vsn::V2);
                frame = &v2_text;
            } else {
                metrics_.dropped_messages++;
                continue;
            }
        } else {
            if (!msg.json_payload) {
                metrics_.dropped_messages++;
                continue;
            }
            if (!v2_text) v2_text = text_frame(phoenix::Vsn::V2);
            frame = &v2_text;
        }
        out_.enqueue(conn, *frame);
    }
}

}  // namespace rt
