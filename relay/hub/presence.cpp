// Presence: tracking members, applying peers' entries, and the diffs members receive.
#include "relay/hub/presence.h"

#include <cctype>
#include <random>

#include "relay/protocol/errors.h"

namespace rt {
namespace {

// Two metas as JSON values are the same (member order aside).
bool same_meta(const std::string& a, const std::string& b) {
    if (a == b) return true;
    json::Document da, db;
    return json::parse(da, a) && json::parse(db, b) && da == db;
}

}  // namespace

Presence::Presence(const Limits& limits, Channels& channels, Output& out, Metrics& metrics, ClusterPort* cluster)
    : limits_(limits), channels_(channels), out_(out), metrics_(metrics), cluster_(cluster) {
    std::mt19937_64 rng{std::random_device{}()};
    next_ref_ = rng() & 0xffffffffffULL;  // phx_refs differ across restarts of a node
}

std::optional<std::string> Presence::handle(Connection& conn, Member& m, const phoenix::Inbound& msg) {
    const json::Value* event = msg.payload ? json::member(*msg.payload, "event") : nullptr;
    std::string ev(json::string_or(event, ""));
    for (char& c : ev) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));  // "TRACK" too
    if (ev == "track") return handle_track(conn, m, msg);
    if (ev == "untrack") {
        untrack(m);
        out_.reply(conn, msg, "ok", "{}");
    } else {
        metrics_.protocol_errors++;
        out_.error_reply(conn, msg, errors::kPresenceEvent);
    }
    return std::nullopt;
}

// A track: the meta as the client wrote it ({} without one). The same meta again changes
// nothing (no diff), as in Supabase; one over the payload limit closes the channel.
std::optional<std::string> Presence::handle_track(Connection& conn, Member& m, const phoenix::Inbound& msg) {
    if (m.is_private() && !m.policies.presence_write.value_or(false)) {
        metrics_.authorization_denied++;
        out_.reply(conn, msg, "error", "{}");  // Supabase's answer to a refused track
        return std::nullopt;
    }
    const json::Value* meta = json::member(*msg.payload, "payload");
    if (meta && !meta->IsObject()) {
        out_.error_reply(conn, msg, errors::kPresenceTrackShape);
        return std::nullopt;
    }
    std::optional<std::string_view> raw = phoenix::raw_payload_member(msg, "payload");
    std::string meta_json = raw ? json::compact(*raw) : "{}";
    const PresenceEntry* now = store_.find(m.channel->key, "", m.id);
    if (now && same_meta(now->meta_json, meta_json)) {
        out_.reply(conn, msg, "ok", "{}");
        return std::nullopt;
    }
    if (static_cast<int64_t>(meta_json.size()) > limits_.max_payload_bytes) return std::string(errors::kTrackTooLarge);
    if (!m.presence_enabled) {
        // A track enables presence on a channel joined without it.
        m.presence_enabled = true;
        send_state(m);
    }
    track(m, std::move(meta_json));
    out_.reply(conn, msg, "ok", "{}");
    return std::nullopt;
}

void Presence::send_state(Member& m) {
    if (!m.reads_presence()) return;
    out_.push(*m.conn, m.join_ref, m.channel->topic, "presence_state", store_.state_json(m.channel->key));
}

void Presence::track(Member& m, std::string meta_json) {
    PresenceEntry e;
    e.owner = m.id;
    e.key = m.presence_key;
    e.phx_ref = next_phx_ref();
    e.meta_json = std::move(meta_json);
    const PresenceEntry* before = store_.find(m.channel->key, "", m.id);
    if (before) e.phx_ref_prev = before->phx_ref;
    PresenceDelta delta{true, m.channel->key, e};
    PresenceDiff diff = store_.track(m.channel->key, std::move(e));
    count_entries();
    fanout_diff(diff);
    if (cluster_) cluster_->publish_presence(delta);
}

void Presence::untrack(Member& m) {
    PresenceDiff diff;
    if (!store_.untrack(m.channel->key, "", m.id, diff)) return;
    count_entries();
    fanout_diff(diff);
    if (cluster_) {
        PresenceDelta delta;
        delta.join = false;
        delta.topic = m.channel->key;
        delta.entry.owner = m.id;
        cluster_->publish_presence(delta);
    }
}

void Presence::apply_remote(const std::string& node, const PresenceDelta& delta) {
    PresenceDiff diff;
    if (delta.join) {
        PresenceEntry e = delta.entry;
        e.node = node;
        diff = store_.track(delta.topic, std::move(e));
    } else if (!store_.untrack(delta.topic, node, delta.entry.owner, diff)) {
        return;
    }
    count_entries();
    fanout_diff(diff);
}

void Presence::remove_remote(const std::string& node) {
    for (const PresenceDiff& diff : store_.remove_node(node)) fanout_diff(diff);
    count_entries();
}

void Presence::replace_remote(const std::string& node, const std::vector<PresenceDelta>& entries) {
    std::vector<std::pair<std::string, PresenceEntry>> state;
    state.reserve(entries.size());
    for (const PresenceDelta& d : entries) state.emplace_back(d.topic, d.entry);
    for (const PresenceDiff& diff : store_.replace_node(node, state)) fanout_diff(diff);
    count_entries();
}

void Presence::for_each_local(const std::function<void(const PresenceDelta&)>& fn) const {
    store_.for_each_of_node("", [&](const std::string& topic, const PresenceEntry& e) {
        fn(PresenceDelta{true, topic, e});
    });
}

void Presence::send_snapshot(const std::string& to) {
    if (!cluster_) return;
    std::vector<PresenceDelta> entries;
    for_each_local([&](const PresenceDelta& d) { entries.push_back(d); });
    cluster_->send_presence_snapshot(to, std::move(entries));
}

// diff.topic is the channel's key (the store's and the mesh's); clients see its topic.
void Presence::fanout_diff(const PresenceDiff& diff) {
    Channel* ch = channels_.find(diff.topic);
    if (!ch) return;
    FrameRef frames[2];
    for (Member* m : ch->members) {
        if (!m->presence_enabled || !m->reads_presence()) continue;
        auto v = static_cast<size_t>(m->conn->vsn);
        if (!frames[v]) {
            std::string buf = frame_buffer(diff.json.size() + ch->topic.size() + 48);
            phoenix::encode(buf, m->conn->vsn, std::nullopt, std::nullopt, ch->topic, "presence_diff", diff.json);
            frames[v] = make_frame(std::move(buf), false);
        }
        out_.enqueue(*m->conn, frames[v]);
    }
}

void Presence::count_entries() { metrics_.presence_entries.store(static_cast<int64_t>(store_.entries())); }

std::string Presence::next_phx_ref() {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t n = next_ref_++;
    std::string ref = "F";
    for (int i = 0; i < 11; ++i, n >>= 6) ref.push_back(alphabet[n & 63]);
    return ref;
}

}  // namespace rt
