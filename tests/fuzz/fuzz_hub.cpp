// Fuzz target: the hub (the loop's protocol state) driven by a client script: frames of
// two connections, the database's answers to their joins, changes and broadcasts from
// the slot and from peers, time passing, connections closing and reopening, peers'
// inspector questions (whose answers must be JSON objects). Whatever
// the order, the hub must neither crash nor leak (ASan), and the frames it queues must
// be well-formed: every text frame it sends parses as JSON.
//
// The script is records of [op byte][length byte][that many bytes].
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "fuzz_input.h"
#include "relay/hub/hub.h"
#include "relay/protocol/jwt.h"

using namespace rt;

namespace {

constexpr const char* kSecret = "fuzz-secret-fuzz-secret-fuzz-secret!";
constexpr int64_t kWall0 = 1'700'000'000;

class Sink : public Transport {
public:
    void request_write(Connection&) override {}
    void close(Connection& conn, int, std::string_view) override { conn.closing = true; }
};

class Db : public DbPort {
public:
    bool available() const override { return true; }
    void subscribe(uint64_t, uint64_t member_id, std::vector<BindingSpec> bindings, std::string,
                   AdoptAs) override {
        pending.push_back({member_id, bindings.size()});
    }
    void unsubscribe(std::vector<int64_t>) override {}
    void update_claims(uint64_t, std::vector<int64_t>, std::string) override {}
    void mark_parked(std::vector<int64_t>, int64_t) override {}
    std::vector<std::pair<uint64_t, size_t>> pending;  // member, bindings
};

class Cluster : public ClusterPort {
public:
    void publish_broadcast(const BroadcastMsg&) override {}
    void channel_interest(const std::string& topic, bool interested) override {
        if (interested) routed.push_back(topic);
    }
    void publish_presence(const PresenceDelta&) override {}
    void send_presence_snapshot(const std::string&, std::vector<PresenceDelta>) override {}
    void ask_inspect(const InspectQuery&) override {}
    void ask_kept(const std::string&, const KeptAsk&) override {}
    void hand_kept(const std::string&, const KeptHandOver&) override {}
    // This node's answer to a peer's inspector: a JSON object.
    void answer_inspect(const std::string&, const InspectAnswer& a) override {
        json::Document d;
        if (!json::parse(d, a.json) || !d.IsObject()) {
            fprintf(stderr, "inspector answer not a JSON object: %s\n", a.json.c_str());
            std::abort();
        }
    }
    std::vector<std::string> routed;
};

// Reads what the hub queued on conn; text frames must be JSON.
void drain(Connection& conn) {
    while (!conn.queue.empty()) {
        const Frame& f = conn.queue.front();
        if (!f.binary) {
            json::Document d;
            std::string error;
            if (!json::parse(d, f.buf.substr(kHeadroom), &error)) {
                fprintf(stderr, "not JSON (%s): %s\n", error.c_str(), f.buf.substr(kHeadroom).c_str());
                std::abort();
            }
        }
        conn.queue.pop();
    }
}

struct World {
    Config cfg;
    Metrics metrics;
    Sink sink;
    Db db;
    Cluster cluster;
    std::unique_ptr<Hub> hub;
    Connection* conns[2] = {nullptr, nullptr};
    int64_t mono = 50'000'000, wall = kWall0;
    int64_t next_id = 1;

    World() {
        cfg.jwt_secret = kSecret;
        cfg.node_id = "fuzz";
        hub = std::make_unique<Hub>(cfg, sink, metrics, &db, &cluster);
        hub->set_clock(mono, wall);
    }
    void open(int i, phoenix::Vsn vsn) {
        std::string token = sign_hs256(R"({"role":"anon","sub":"u","exp":1800000000})", kSecret);
        JwtResult r = hub->auth().verify(token, wall);
        conns[i] = hub->open(&conns[i], vsn, r.claims, token);
    }
    void step(uint8_t op, std::string_view bytes);
};

void World::step(uint8_t op, std::string_view bytes) {
    int i = op & 1;
    switch ((op >> 1) % 9) {
        case 0: case 1: hub->receive(*conns[i], bytes, false); break;
        case 2: hub->receive(*conns[i], bytes, true); break;
        case 3:  // the database answers the oldest join (ok, adopted, elsewhere, or refused)
            if (!db.pending.empty()) {
                SubscribeResult r;
                r.member_id = db.pending.front().first;
                uint8_t how = bytes.empty() ? 0 : static_cast<uint8_t>(bytes[0]);
                r.elsewhere = how & 4;  // rows of a node that still beats: ok, nothing made
                r.ok = r.elsewhere || (how & 1);
                r.adopted = !r.elsewhere && r.ok && (how & 2);
                if (r.ok && !r.elsewhere)
                    for (size_t k = 0; k < db.pending.front().second; ++k) r.ids.push_back(next_id++);
                else
                    r.error = "refused";
                db.pending.erase(db.pending.begin());
                hub->on_subscribe_result(std::move(r));
            }
            break;
        case 4: {  // a change for some of the ids handed out
            ChangeEvent ev;
            ev.pos.commit_lsn = static_cast<uint64_t>(next_id) * 16 + static_cast<uint64_t>(bytes.size());
            static constexpr ChangeEvent::Kind kKinds[] = {ChangeEvent::Kind::Subscribed, ChangeEvent::Kind::Row,
                                                           ChangeEvent::Kind::Row, ChangeEvent::Kind::Recovered};
            ev.kind = kKinds[bytes.size() % 4];
            ChangeGroup group;
            for (char c : bytes) {
                int64_t id = 1 + static_cast<uint8_t>(c) % (next_id + 1);
                bool row = ev.kind != ChangeEvent::Kind::Subscribed;
                if (row && (c & 0x40))  // some ids get a notice instead (a check failed, or the binding ended)
                    ev.notices.push_back({id, "check failed", (c & 0x20) != 0});
                else
                    group.ids.push_back(id);
            }
            if (ev.kind != ChangeEvent::Kind::Subscribed) group.payload = R"({"ids":[1],"data":{"type":"INSERT","record":{}}})";
            ev.groups.push_back(std::move(group));
            hub->deliver_change(ev);
            break;
        }
        case 5: {  // a broadcast from SQL or a peer, on a channel the script named
            BroadcastMsg b;
            b.topic = "realtime:" + std::string(bytes.substr(0, bytes.size() / 2));
            b.event = "e";
            b.payload = "{}";
            hub->deliver_broadcast(b);
            for (const std::string& t : cluster.routed) hub->on_channel_routed(t);
            cluster.routed.clear();
            break;
        }
        case 6:  // time passes: tokens expire, idle sockets close, orphans go
            mono += 1000 * (1 + static_cast<uint8_t>(bytes.empty() ? 0 : bytes[0]));
            wall += 1 + (bytes.empty() ? 0 : static_cast<uint8_t>(bytes[0]));
            hub->set_clock(mono, wall);
            hub->tick();
            break;
        case 8: {  // a peer's inspector asks about channels matching a text, or one channel
            InspectQuery q;
            q.id = static_cast<uint64_t>(next_id);
            bool one = !bytes.empty() && (bytes[0] & 1);
            q.kind = one ? InspectQuery::Kind::Channel : InspectQuery::Kind::Channels;
            q.arg = one ? "realtime:" + std::string(bytes.substr(1)) : std::string(bytes);
            q.limit = bytes.size() % 5;
            hub->answer_inspect("peer", q);
            break;
        }
        case 7:  // the socket goes, and a new one comes (the other protocol version)
            hub->closed(*conns[i]);
            open(i, bytes.size() & 1 ? phoenix::Vsn::V2 : phoenix::Vsn::V1);
            break;
    }
    for (Connection* c : conns) drain(*c);
    for (const std::string& t : cluster.routed) hub->on_channel_routed(t);
    cluster.routed.clear();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    World w;
    w.open(0, phoenix::Vsn::V1);
    w.open(1, phoenix::Vsn::V2);
    for (size_t p = 0; p + 2 <= size;) {
        uint8_t op = data[p];
        size_t len = std::min<size_t>(data[p + 1], size - p - 2);
        w.step(op, std::string_view(reinterpret_cast<const char*>(data + p + 2), len));
        p += 2 + len;
    }
    // SIGTERM: the node drains (1012 to every socket), and the sockets go.
    w.hub->begin_drain();
    w.hub->drain(SIZE_MAX);
    for (Connection* c : w.conns) {
        drain(*c);
        w.hub->closed(*c);
    }
    return 0;
}
