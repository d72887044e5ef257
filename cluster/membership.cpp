// Peer liveness, incarnations, stream gaps and presence replication state.
#include "cluster/membership.h"

#include <algorithm>

#include "relay/core/json.h"

namespace rt::cluster {
namespace {

constexpr size_t kMaxPendingDeltas = 100000;
constexpr int64_t kSnapshotRetryMs = 1000;

}  // namespace

Peer& Membership::peer(const std::string& node) {
    auto it = peers_.find(node);
    if (it != peers_.end()) return it->second;
    Peer& p = peers_[node];
    p.node = node;
    return p;
}

bool Membership::on_message(const Header& h, int64_t now_ms, Actions& out) {
    if (h.node == self_) return false;
    Peer& p = peer(h.node);
    if (p.incarnation != h.incarnation) {
        if (p.incarnation != 0) {
            // A restarted node: what we knew of its previous life is void.
            out.log.push_back("node " + h.node + " restarted (new incarnation)");
            out.forget_presence.push_back(h.node);
            if (p.state == PeerState::Up) out.returned.push_back(h.node);
        }
        p.incarnation = h.incarnation;
        p.presence_synced = false;
        p.presence_seq = 0;
        p.pending.clear();
        p.node_stream_seq = 0;
        p.broadcast_seq.clear();
        p.snapshot_requested_ms = 0;
        // Still up (a quick restart): ask for the new life's presence now, not at a tick.
        if (p.state == PeerState::Up) request_snapshot(p, now_ms, out);
    }
    p.last_heard_ms = now_ms;
    if (p.state == PeerState::Down) {
        p.state = PeerState::Up;
        out.log.push_back("node " + h.node + " is up");
        out.returned.push_back(h.node);
        p.presence_synced = false;
        p.pending.clear();
        request_snapshot(p, now_ms, out);
    }
    return true;
}

void Membership::on_heartbeat(const Header& h, const Heartbeat& hb, int64_t now_ms, Actions& out) {
    Peer& p = peer(h.node);
    if (!hb.endpoint.empty() && hb.endpoint != p.endpoint) {
        p.endpoint = hb.endpoint;
        add_endpoint(hb.endpoint, out);
    }
    p.region = hb.region;
    p.competes = hb.competes;
    p.slot_holder = hb.slot_holder;
    p.held_at_last_beat = hb.slot_holder;
    if (hb.slot_holder) p.last_held_slot_ms = now_ms;
    p.reading = hb.reading;
    // Deltas are published before the heartbeat that counts them: a higher count means
    // we lost the last ones.
    if (p.presence_synced && hb.presence_seq > p.presence_seq) {
        p.presence_synced = false;
        request_snapshot(p, now_ms, out);
    }
}

void Membership::on_presence_delta(const Header& h, PresenceDelta delta, int64_t now_ms, Actions& out) {
    apply_or_buffer(peer(h.node), h.seq, std::move(delta), now_ms, out);
}

void Membership::apply_or_buffer(Peer& p, uint64_t seq, PresenceDelta delta, int64_t now_ms, Actions& out) {
    if (p.presence_synced) {
        if (seq <= p.presence_seq) return;  // already in a snapshot we applied
        if (seq == p.presence_seq + 1) {
            p.presence_seq = seq;
            out.deltas.emplace_back(p.node, std::move(delta));
            return;
        }
        p.presence_synced = false;  // a gap: the snapshot will fill it
        out.log.push_back("presence gap from node " + p.node + ": asking for a snapshot");
        request_snapshot(p, now_ms, out);
    }
    if (p.pending.size() >= kMaxPendingDeltas) p.pending.clear();
    p.pending.emplace_back(seq, std::move(delta));
}

void Membership::on_snapshot(const Header& h, PresenceSnapshot snapshot, int64_t now_ms, Actions& out) {
    Peer& p = peer(h.node);
    p.presence_seq = snapshot.presence_seq;
    p.presence_synced = true;
    out.snapshots.emplace_back(p.node, std::move(snapshot));
    // Deltas that arrived while we waited and are newer than the snapshot follow it.
    std::vector<std::pair<uint64_t, PresenceDelta>> pending;
    pending.swap(p.pending);
    std::sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [seq, delta] : pending) apply_or_buffer(p, seq, std::move(delta), now_ms, out);
}

uint64_t Membership::node_stream_gap(const Header& h) {
    Peer& p = peer(h.node);
    uint64_t gap = p.node_stream_seq && h.seq > p.node_stream_seq + 1 ? h.seq - p.node_stream_seq - 1 : 0;
    if (h.seq > p.node_stream_seq) p.node_stream_seq = h.seq;
    return gap;
}

uint64_t Membership::broadcast_gap(const Header& h, const std::string& topic) {
    uint64_t& last = peer(h.node).broadcast_seq[topic];
    uint64_t gap = last && h.seq > last + 1 ? h.seq - last - 1 : 0;
    if (h.seq > last) last = h.seq;
    return gap;
}

void Membership::forget_broadcast_seq(const std::string& topic) {
    for (auto& [node, p] : peers_) p.broadcast_seq.erase(topic);
}

void Membership::tick(int64_t now_ms, Actions& out) {
    for (auto& [node, p] : peers_) {
        if (p.state == PeerState::Up && now_ms - p.last_heard_ms > down_ms_) {
            p.state = PeerState::Down;
            p.presence_synced = false;
            p.pending.clear();
            p.slot_holder = false;
            out.log.push_back("node " + node + " is down (silent for " + std::to_string(now_ms - p.last_heard_ms) +
                              " ms)");
            out.forget_presence.push_back(node);
            out.left.push_back(node);
        }
        if (p.state == PeerState::Up && !p.presence_synced && now_ms - p.snapshot_requested_ms >= kSnapshotRetryMs)
            request_snapshot(p, now_ms, out);
    }
}

void Membership::request_snapshot(Peer& p, int64_t now_ms, Actions& out) {
    if (p.snapshot_requested_ms && now_ms - p.snapshot_requested_ms < kSnapshotRetryMs / 2) return;
    p.snapshot_requested_ms = now_ms;
    out.request_snapshot.push_back(p.node);
}

void Membership::add_endpoint(const std::string& endpoint, Actions& out) {
    if (endpoint.empty() || std::find(endpoints_.begin(), endpoints_.end(), endpoint) != endpoints_.end()) return;
    endpoints_.push_back(endpoint);
    out.connect.push_back(endpoint);
}

bool Membership::expect(const std::string& endpoint, int64_t until_ms) {
    if (endpoint.empty()) return false;
    auto [it, added] = expected_.emplace(endpoint, until_ms);
    if (!added && it->second < until_ms) it->second = until_ms;
    return added;
}

bool Membership::expected(const std::string& endpoint, int64_t now_ms) const {
    auto it = expected_.find(endpoint);
    return it != expected_.end() && now_ms < it->second && node_at(endpoint).empty();
}

std::vector<std::string> Membership::unheard(int64_t now_ms) const {
    std::vector<std::string> out;
    for (const auto& [endpoint, until] : expected_)
        if (expected(endpoint, now_ms)) out.push_back(endpoint);
    return out;
}

std::string Membership::node_at(const std::string& endpoint) const {
    for (const auto& [node, p] : peers_)
        if (p.state == PeerState::Up && p.endpoint == endpoint) return node;
    return "";
}

bool Membership::is_up(const std::string& node) const {
    auto p = peers_.find(node);
    return p != peers_.end() && p->second.state == PeerState::Up;
}

std::vector<std::string> Membership::up_peers() const {
    std::vector<std::string> up;
    for (const auto& [node, p] : peers_)
        if (p.state == PeerState::Up) up.push_back(node);
    return up;
}

std::string Membership::peers_json() const {
    std::string json = "[";
    bool first = true;
    for (const auto& [node, p] : peers_) {
        if (!first) json.push_back(',');
        first = false;
        json += "{\"node_id\":";
        json::append_string(json, node);
        json += ",\"state\":";
        json += p.state == PeerState::Up ? "\"up\"" : "\"down\"";
        json += ",\"region\":";
        json::append_string(json, p.region);
        json += ",\"endpoint\":";
        json::append_string(json, p.endpoint);
        json += ",\"slot_holder\":";
        json += p.state == PeerState::Up && p.slot_holder ? "true" : "false";
        json.push_back('}');
    }
    json.push_back(']');
    return json;
}

std::vector<NodeView> Membership::views(int64_t now_ms) const {
    std::vector<NodeView> out;
    out.reserve(peers_.size());
    for (const auto& [node, p] : peers_) {
        NodeView v;
        v.node = node;
        v.up = p.state == PeerState::Up;
        v.region = p.region;
        v.endpoint = p.endpoint;
        v.incarnation = p.incarnation;
        v.slot_holder = v.up && p.slot_holder;
        v.heard_ms_ago = p.last_heard_ms ? now_ms - p.last_heard_ms : -1;
        v.reading = p.reading;
        out.push_back(std::move(v));
    }
    return out;
}

size_t Membership::up_count() const {
    size_t n = 0;
    for (const auto& [node, p] : peers_) n += p.state == PeerState::Up;
    return n;
}

int64_t Membership::last_slot_holder_in(const std::string& region) const {
    int64_t last = 0;
    for (const auto& [node, p] : peers_)
        if (p.region == region && p.last_held_slot_ms > last) last = p.last_held_slot_ms;
    return last;
}

bool Membership::holder_up() const {
    for (const auto& [node, p] : peers_)
        if (p.state == PeerState::Up && p.slot_holder) return true;
    return false;
}

bool Membership::competitor_up_in(const std::string& region) const {
    for (const auto& [node, p] : peers_)
        if (p.state == PeerState::Up && p.region == region && p.competes) return true;
    return false;
}

std::vector<std::string> Membership::hung_holders(int64_t now_ms, int64_t silence_ms) const {
    std::vector<std::string> hung;
    for (const auto& [node, p] : peers_) {
        if (!p.held_at_last_beat) continue;
        if (now_ms - p.last_heard_ms <= silence_ms) return {};  // a holder is heard
        hung.push_back(node);
    }
    return hung;
}

bool Membership::other_holder_heard(const std::string& node, int64_t now_ms, int64_t within_ms) const {
    for (const auto& [id, p] : peers_)
        if (id != node && p.state == PeerState::Up && p.slot_holder && now_ms - p.last_heard_ms <= within_ms)
            return true;
    return false;
}

}  // namespace rt::cluster
