// The hub's unit test fixture: a Hub on fake ports (tests/unit/fakes.h), a clock set by
// hand, and helpers that speak as a Phoenix client does (frames built by hand, not by the
// code under test). Shared by tests/unit/hub/test_*.cpp.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client_frames.h"
#include "fakes.h"
#include "relay/core/log.h"
#include "relay/hub/hub.h"
#include "relay/protocol/jwt.h"
#include "relay/protocol/payloads.h"

namespace rt::testing {

using phoenix::Vsn;

constexpr const char* kSecret = "unit-test-secret-unit-test-secret";
constexpr int64_t kMono0 = 50'000'000;
constexpr int64_t kWall0 = 1'700'000'000;

inline std::string token_for(std::string_view role, std::string_view sub, int64_t exp) {
    std::string claims = "{\"role\":\"" + std::string(role) + "\",\"exp\":" + std::to_string(exp);
    if (!sub.empty()) claims += ",\"sub\":\"" + std::string(sub) + "\"";
    claims += "}";
    return sign_hs256(claims, kSecret);
}

inline std::string q(std::string_view s) {
    std::string out;
    json::append_string(out, s);
    return out;
}

inline std::string ref_json(std::optional<std::string_view> r) { return r ? q(*r) : "null"; }

// A client message in the text form of vsn (v1 carries join_ref too, as realtime-js does).
inline std::string msg(Vsn vsn, std::optional<std::string_view> join_ref, std::optional<std::string_view> ref,
                std::string_view topic, std::string_view event, std::string_view payload) {
    if (vsn == Vsn::V2)
        return "[" + ref_json(join_ref) + "," + ref_json(ref) + "," + q(topic) + "," + q(event) + "," +
               std::string(payload) + "]";
    return "{\"topic\":" + q(topic) + ",\"event\":" + q(event) + ",\"payload\":" + std::string(payload) +
           ",\"ref\":" + ref_json(ref) + ",\"join_ref\":" + ref_json(join_ref) + "}";
}

struct JoinOpts {
    bool self = false;
    bool ack = false;
    bool presence = false;
    std::string key;
    std::string postgres_changes = "[]";
    std::string is_private = "false";
    std::string replay;        // broadcast.replay as JSON; empty: none
    std::string access_token;  // empty: none in the payload
};

inline std::string join_payload(const JoinOpts& o) {
    std::string p = "{\"config\":{\"broadcast\":{\"ack\":" + std::string(o.ack ? "true" : "false") +
                    ",\"self\":" + (o.self ? "true" : "false") +
                    (o.replay.empty() ? "" : ",\"replay\":" + o.replay) + "},\"presence\":{\"enabled\":" +
                    (o.presence ? "true" : "false") + ",\"key\":" + q(o.key) +
                    "},\"postgres_changes\":" + o.postgres_changes + ",\"private\":" + o.is_private + "}";
    if (!o.access_token.empty()) p += ",\"access_token\":" + q(o.access_token);
    p += "}";
    return p;
}

// A presence entry of another node, as the mesh hands it to the hub.
inline PresenceDelta remote_entry(std::string_view topic, uint64_t owner, std::string_view key, std::string_view phx_ref,
                           std::string_view meta_json = "{}") {
    PresenceDelta d;
    d.topic = topic;
    d.entry.owner = owner;
    d.entry.key = key;
    d.entry.phx_ref = phx_ref;
    d.entry.meta_json = meta_json;
    return d;
}

inline ChangeEvent row(std::vector<int64_t> ids, uint64_t lsn, uint32_t index,
                std::string_view data = R"({"schema":"public","table":"todos","type":"INSERT","record":{"id":1},"errors":null})") {
    ChangeEvent ev;
    ev.kind = ChangeEvent::Kind::Row;
    ev.pos = {lsn, index};
    ChangeGroup g;
    g.payload = payloads::postgres_changes(ids, data);
    g.ids = std::move(ids);
    ev.groups.push_back(std::move(g));
    return ev;
}

inline ChangeEvent subscribed(std::vector<int64_t> ids, uint64_t lsn, uint32_t index) {
    ChangeEvent ev;
    ev.kind = ChangeEvent::Kind::Subscribed;
    ev.pos = {lsn, index};
    ev.groups.push_back({std::move(ids), ""});
    return ev;
}

inline const std::string kTodos = R"({"event":"*","schema":"public","table":"todos"})";
inline const std::string kNotes = R"({"event":"INSERT","schema":"public","table":"notes","filter":"id=eq.1"})";

inline std::vector<Out> with_event(const std::vector<Out>& frames, std::string_view event) {
    std::vector<Out> out;
    for (const Out& o : frames)
        if (o.event == event) out.push_back(o);
    return out;
}

inline std::string ids_of(const Out& o) {
    json::Document d;
    if (!json::parse(d, o.payload)) return "<bad>";
    const json::Value* ids = json::member(d, "ids");
    return ids ? json::stringify(*ids) : "<none>";
}

class HubTest : public ::testing::Test {
protected:
    void SetUp() override {
        log::set_level(log::Level::Warn);  // the hub's info lines are noise here
        cfg.node_id = "node-a";
        cfg.jwt_secret = kSecret;
        cfg.resume_grace_s = 10;
        make_hub();
    }

    void make_hub() {
        hub = std::make_unique<Hub>(cfg, transport, metrics, &db, &cluster, access_port);
        cluster.hub = hub.get();
        hub->set_clock(mono, wall());
    }

    int64_t wall() const { return kWall0 + (mono - kMono0) / 1000; }
    void advance_ms(int64_t ms) {
        mono += ms;
        hub->set_clock(mono, wall());
    }

    Connection* connect(Vsn vsn, std::string_view sub = "user-1", int64_t exp_in_s = 3600,
                        std::string_view role = "authenticated") {
        std::string token = token_for(role, sub, wall() + exp_in_s);
        JwtResult r = JwtVerifier(kSecret).verify(token, wall());
        EXPECT_TRUE(r.ok) << r.error;
        return hub->open(nullptr, vsn, r.claims, token);
    }

    // A client whose token carries exactly claims_json (an object with role and exp).
    Connection* connect_with(Vsn vsn, const std::string& claims_json) {
        std::string token = sign_hs256(claims_json, kSecret);
        JwtResult r = JwtVerifier(kSecret).verify(token, wall());
        EXPECT_TRUE(r.ok) << r.error;
        return hub->open(nullptr, vsn, r.claims, token);
    }

    void send(Connection* c, const std::string& text) { hub->receive(*c, text, false); }
    void send_binary(Connection* c, const std::string& bytes) { hub->receive(*c, bytes, true); }

    // Joins topic with ref = join_ref = jr; returns what the hub queued.
    std::vector<Out> join(Connection* c, std::string_view topic, const JoinOpts& o = {}, std::string_view jr = "1") {
        send(c, msg(c->vsn, jr, jr, topic, "phx_join", join_payload(o)));
        return take(*c);
    }

    // Joins and asserts the ok reply.
    void joined(Connection* c, std::string_view topic, const JoinOpts& o = {}, std::string_view jr = "1") {
        auto frames = join(c, topic, o, jr);
        ASSERT_FALSE(frames.empty());
        EXPECT_EQ(frames[0].event, "phx_reply");
        EXPECT_EQ(compact(frames[0].payload).substr(0, 14), R"({"status":"ok")") << frames[0].raw;
    }

    void broadcast(Connection* c, std::string_view topic, std::string_view event, std::string_view payload,
                   std::string_view ref = "9", std::string_view jr = "1") {
        send(c, msg(c->vsn, jr, ref, topic, "broadcast",
                    "{\"type\":\"broadcast\",\"event\":" + q(event) + ",\"payload\":" + std::string(payload) + "}"));
    }

    // A postgres_changes join answered by the database with ids.
    void pg_joined(Connection* c, std::string_view topic, const std::string& bindings, std::vector<int64_t> ids,
                   std::string_view jr = "1") {
        JoinOpts o;
        o.postgres_changes = bindings;
        auto frames = join(c, topic, o, jr);
        EXPECT_TRUE(frames.empty()) << "the reply waits for the database";
        ASSERT_FALSE(db.subscribes.empty());
        SubscribeResult r;
        r.member_id = db.subscribes.back().member_id;
        r.ok = true;
        r.ids = std::move(ids);
        hub->on_subscribe_result(std::move(r));
    }

    Config cfg;
    Metrics metrics;
    FakeTransport transport;
    FakeDb db;
    FakeCluster cluster;
    FakeAccess access;
    AccessPort* access_port = nullptr;  // &access for tests of private channels
    std::unique_ptr<Hub> hub;
    int64_t mono = kMono0;
};

}  // namespace rt::testing
