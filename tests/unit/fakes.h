// Test doubles for the hub's ports (Transport, DbPort, AccessPort, ClusterPort), the loop's inbound
// port (LoopInbound), and helpers to read what the hub queued on a connection. Shared by
// the unit tests.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/hub/hub.h"
#include "relay/core/json.h"
#include "relay/hub/inbound.h"
#include "relay/hub/ports.h"

namespace rt::testing {

// Records write requests and closes. Frames stay in Connection::queue: tests read them
// with take().
class FakeTransport : public Transport {
public:
    struct Close {
        uint64_t conn_id;
        int code;
        std::string reason;
    };
    void request_write(Connection& conn) override { writes.push_back(conn.id); }
    void close(Connection& conn, int code, std::string_view reason) override {
        closes.push_back({conn.id, code, std::string(reason)});
    }
    bool closed(const Connection* conn) const {
        for (const Close& c : closes)
            if (c.conn_id == conn->id) return true;
        return false;
    }
    const Close* close_of(const Connection* conn) const {
        for (const Close& c : closes)
            if (c.conn_id == conn->id) return &c;
        return nullptr;
    }

    std::vector<uint64_t> writes;
    std::vector<Close> closes;
};

// Records subscribe/unsubscribe; the test answers with Hub::on_subscribe_result.
class FakeDb : public DbPort {
public:
    struct Subscribe {
        uint64_t client;
        uint64_t member_id;
        std::vector<BindingSpec> bindings;
        std::string claims_json;
        AdoptAs adopt;
    };
    bool available() const override { return up; }
    void subscribe(uint64_t client, uint64_t member_id, std::vector<BindingSpec> bindings,
                   std::string claims_json, AdoptAs adopt) override {
        subscribes.push_back({client, member_id, std::move(bindings), std::move(claims_json), std::move(adopt)});
    }
    void unsubscribe(std::vector<int64_t> ids) override { unsubscribes.push_back(std::move(ids)); }
    void update_claims(uint64_t client, std::vector<int64_t> ids, std::string claims_json) override {
        claims_updates.push_back({client, std::move(ids), std::move(claims_json)});
    }
    void mark_parked(std::vector<int64_t> ids, int64_t at_ms) override {
        for (int64_t id : ids) parks.push_back({id, at_ms});
    }
    struct Park {
        int64_t id;
        int64_t at_ms;  // 0: no longer parked
    };
    std::vector<Park> parks;
    struct ClaimsUpdate {
        uint64_t client;
        std::vector<int64_t> ids;
        std::string claims_json;
    };
    std::vector<ClaimsUpdate> claims_updates;

    // Every id unsubscribed so far, in order.
    std::vector<int64_t> unsubscribed_ids() const {
        std::vector<int64_t> all;
        for (const auto& v : unsubscribes) all.insert(all.end(), v.begin(), v.end());
        return all;
    }

    bool up = true;
    std::vector<Subscribe> subscribes;
    std::vector<std::vector<int64_t>> unsubscribes;
};

// Records authorization checks and replays; the test answers with Hub::on_access_result
// and Hub::on_replay_result.
class FakeAccess : public AccessPort {
public:
    struct Check {
        uint64_t client;
        uint64_t ticket;
        AccessCheck check;
    };
    struct Query {
        uint64_t client;
        uint64_t ticket;
        ReplayQuery query;
    };
    void authorize(uint64_t client, uint64_t ticket, AccessCheck check) override {
        checks.push_back({client, ticket, std::move(check)});
    }
    void replay(uint64_t client, uint64_t ticket, ReplayQuery query) override {
        replays.push_back({client, ticket, std::move(query)});
    }

    std::vector<Check> checks;
    std::vector<Query> replays;
};

class FakeCluster : public ClusterPort {
public:
    void publish_broadcast(const BroadcastMsg& msg) override { broadcasts.push_back(msg); }
    void channel_interest(const std::string& topic, bool interested) override {
        interest.emplace_back(topic, interested);
        // A mesh with no peers routes at once; tests of the wait clear auto_route.
        if (interested && hub && auto_route) hub->on_channel_routed(topic);
    }
    void publish_presence(const PresenceDelta& delta) override { presence.push_back(delta); }
    void send_presence_snapshot(const std::string& to, std::vector<PresenceDelta> entries) override {
        snapshots.emplace_back(to, std::move(entries));
    }
    void ask_inspect(const InspectQuery& q) override { asked.push_back(q); }
    void answer_inspect(const std::string& to, const InspectAnswer& a) override { answers.emplace_back(to, a); }
    void ask_kept(const std::string& node, const KeptAsk& ask) override { kept_asks.emplace_back(node, ask); }
    void hand_kept(const std::string& to, const KeptHandOver& h) override { kept_handed.emplace_back(to, h); }

    std::vector<std::pair<std::string, KeptAsk>> kept_asks;
    std::vector<std::pair<std::string, KeptHandOver>> kept_handed;
    Hub* hub = nullptr;
    bool auto_route = true;
    std::vector<BroadcastMsg> broadcasts;
    std::vector<std::pair<std::string, bool>> interest;
    std::vector<PresenceDelta> presence;
    std::vector<std::pair<std::string, std::vector<PresenceDelta>>> snapshots;
    std::vector<InspectQuery> asked;
    std::vector<std::pair<std::string, InspectAnswer>> answers;
};

// Records what other threads hand to the loop; slot messages are reported processed at
// once (with held_floor) when process_slot is set, as the loop would.
class RecordingInbound : public LoopInbound {
public:
    void subscribe_result(SubscribeResult r) override { subscribe_results.push_back(std::move(r)); }
    void bindings_ended(std::vector<BindingNotice> notices) override { ended.push_back(std::move(notices)); }
    std::vector<std::vector<BindingNotice>> ended;
    void access_result(AccessResult r) override { access_results.push_back(std::move(r)); }
    void replay_result(ReplayResult r) override { replay_results.push_back(std::move(r)); }
    void slot_change(ChangeEvent ev, SlotProgress& progress) override {
        slot_changes.push_back(ev);
        if (process_slot) progress.processed(ev.pos.commit_lsn, held_floor);
    }
    void slot_broadcast(BroadcastMsg msg, SlotProgress& progress) override {
        slot_broadcasts.push_back(msg);
        if (process_slot) progress.processed(msg.pos.commit_lsn, held_floor);
    }
    void peer_change(ChangeEvent ev, SlotProgress&) override { peer_changes.push_back(std::move(ev)); }
    void peer_broadcast(BroadcastMsg msg) override { peer_broadcasts.push_back(std::move(msg)); }
    void peer_presence(std::string node, PresenceDelta delta) override { presence.emplace_back(node, delta); }
    void peer_presence_snapshot(std::string node, std::vector<PresenceDelta> entries) override {
        snapshots.emplace_back(std::move(node), std::move(entries));
    }
    void peer_presence_gone(std::string node) override { gone.push_back(std::move(node)); }
    void presence_snapshot_wanted(std::string node) override { snapshot_wanted.push_back(std::move(node)); }
    void channel_routed(std::string topic) override { routed.push_back(std::move(topic)); }
    void subscriptions_present(std::unordered_set<int64_t> ids) override { present.push_back(std::move(ids)); }
    void jwks_loaded(std::shared_ptr<const Jwks> keys) override { jwks.push_back(std::move(keys)); }
    void inspect_query(std::string node, InspectQuery q) override { inspect_queries.emplace_back(node, q); }
    void inspect_answer(std::string node, InspectAnswer a) override { inspect_answers.emplace_back(node, a); }
    void kept_asked(std::string node, KeptAsk ask) override { kept_asks.emplace_back(node, std::move(ask)); }
    void kept_handed(std::string node, KeptHandOver h) override { kept_handovers.emplace_back(node, std::move(h)); }
    std::vector<std::pair<std::string, KeptAsk>> kept_asks;
    std::vector<std::pair<std::string, KeptHandOver>> kept_handovers;

    bool process_slot = true;
    uint64_t held_floor = 0;
    std::vector<SubscribeResult> subscribe_results;
    std::vector<AccessResult> access_results;
    std::vector<ReplayResult> replay_results;
    std::vector<std::shared_ptr<const Jwks>> jwks;
    std::vector<ChangeEvent> slot_changes;
    std::vector<BroadcastMsg> slot_broadcasts;
    std::vector<ChangeEvent> peer_changes;
    std::vector<BroadcastMsg> peer_broadcasts;
    std::vector<std::pair<std::string, PresenceDelta>> presence;
    std::vector<std::pair<std::string, std::vector<PresenceDelta>>> snapshots;
    std::vector<std::string> gone;
    std::vector<std::string> snapshot_wanted;
    std::vector<std::string> routed;
    std::vector<std::unordered_set<int64_t>> present;
    std::vector<std::pair<std::string, InspectQuery>> inspect_queries;
    std::vector<std::pair<std::string, InspectAnswer>> inspect_answers;
};

// One frame the hub queued, as the client would read it.
struct Out {
    bool binary = false;
    std::string raw;  // the message bytes (without the lws headroom)
    // Text frames, decoded (v1 object or v2 array).
    std::optional<std::string> join_ref;
    std::optional<std::string> ref;
    std::string topic;
    std::string event;
    std::string payload;  // compact JSON of the payload
    bool parsed = false;
};

inline std::optional<std::string> ref_of(const json::Value* v) {
    if (!v || v->IsNull()) return std::nullopt;
    if (v->IsString()) return std::string(v->GetString(), v->GetStringLength());
    return json::stringify(*v);
}

inline Out decode_out(const Frame& f) {
    Out o;
    o.binary = f.binary;
    o.raw = f.buf.substr(kHeadroom);
    if (o.binary) return o;
    json::Document d;
    if (!json::parse(d, o.raw)) return o;
    if (d.IsArray() && d.Size() == 5) {
        o.join_ref = ref_of(&d[0]);
        o.ref = ref_of(&d[1]);
        o.topic = json::string_or(&d[2], "");
        o.event = json::string_or(&d[3], "");
        o.payload = json::stringify(d[4]);
        o.parsed = true;
    } else if (d.IsObject()) {
        o.join_ref = ref_of(json::member(d, "join_ref"));
        o.ref = ref_of(json::member(d, "ref"));
        o.topic = json::string_or(json::member(d, "topic"), "");
        o.event = json::string_or(json::member(d, "event"), "");
        const json::Value* p = json::member(d, "payload");
        if (p) o.payload = json::stringify(*p);
        o.parsed = true;
    }
    return o;
}

// Pops every frame queued on conn.
inline std::vector<Out> take(Connection& conn) {
    std::vector<Out> out;
    while (!conn.queue.empty()) {
        out.push_back(decode_out(conn.queue.front()));
        conn.queue.pop();
    }
    return out;
}

// Compact JSON of text (for comparing JSON regardless of whitespace).
inline std::string compact(std::string_view text) {
    json::Document d;
    if (!json::parse(d, text)) return "<invalid JSON: " + std::string(text) + ">";
    return json::stringify(d);
}

}  // namespace rt::testing
