// The mesh thread: ZeroMQ sockets, heartbeats, stream sequence numbers, and the routing
// of what peers send to the loop.
#include "cluster/mesh.h"
#include "relay/core/clock.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cluster/slot_election.h"
#include "relay/core/json.h"
#include "relay/core/log.h"

namespace rt::cluster {
namespace {

constexpr int kHighWaterMark = 200000;  // messages per peer before ZeroMQ drops
constexpr int kMaxReadsPerWake = 2000;
constexpr int64_t kRouteProbeIntervalMs = 20;

std::string out_endpoint(uint64_t incarnation) { return "inproc://mesh-out-" + std::to_string(incarnation); }

// What peers should dial: the bound endpoint, with a wildcard host made concrete.
std::string advertised(const std::string& bound) {
    std::string ep = bound;
    for (const char* wildcard : {"tcp://0.0.0.0:", "tcp://*:"}) {
        std::string w = wildcard;
        if (ep.rfind(w, 0) == 0) {
            char host[256] = "127.0.0.1";
            gethostname(host, sizeof host - 1);
            ep = "tcp://" + std::string(host) + ":" + ep.substr(w.size());
        }
    }
    return ep;
}

}  // namespace

// -- MeshSender ------------------------------------------------------------------------

MeshSender::MeshSender(zmq::context_t& ctx, const std::string& endpoint, Metrics& metrics)
    : push_(std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::push)), metrics_(metrics) {
    push_->set(zmq::sockopt::sndhwm, kHighWaterMark);
    push_->set(zmq::sockopt::linger, 0);
    push_->connect(endpoint);
}

MeshSender::~MeshSender() = default;

bool MeshSender::publish(const std::string& routing, MsgType type, std::string body, uint64_t presence_seq) {
    char kind[9];
    kind[0] = static_cast<char>(type);
    for (int i = 0; i < 8; ++i) kind[1 + i] = static_cast<char>((presence_seq >> (8 * i)) & 0xff);
    // Non-blocking: a saturated mesh loses the message (counted), never the caller's time.
    if (!push_->send(zmq::buffer(routing), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        metrics_.mesh_dropped++;
        return false;
    }
    push_->send(zmq::buffer(kind, sizeof kind), zmq::send_flags::sndmore);
    zmq::message_t msg(body.data(), body.size());
    push_->send(msg, zmq::send_flags::none);
    return true;
}

void MeshSender::subscribe(const std::string& routing, bool on) {
    // Control messages have an empty routing frame. They must not be lost: block.
    push_->send(zmq::str_buffer(""), zmq::send_flags::sndmore);
    push_->send(zmq::buffer(on ? "S" : "U", 1), zmq::send_flags::sndmore);
    push_->send(zmq::buffer(routing), zmq::send_flags::none);
}

// -- Mesh ------------------------------------------------------------------------------

Mesh::Mesh(const Config& cfg, Metrics& metrics, Mailbox<Hub>& loop)
    : cfg_(cfg),
      metrics_(metrics),
      loop_(loop),
      incarnation_(std::random_device{}() | (static_cast<uint64_t>(std::random_device{}()) << 32)),
      started_ms_(mono_ms()),
      ctx_(std::make_unique<zmq::context_t>(1)),
      membership_(cfg.node_id, cfg.peer_down_ms) {}

Mesh::~Mesh() { stop(); }

bool Mesh::start(std::string& error) {
    try {
        pub_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pub);
        pub_->set(zmq::sockopt::sndhwm, kHighWaterMark);
        pub_->set(zmq::sockopt::linger, 0);
        pub_->bind(cfg_.cluster_bind);
        endpoint_ = advertised(pub_->get(zmq::sockopt::last_endpoint));

        sub_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::sub);
        sub_->set(zmq::sockopt::rcvhwm, kHighWaterMark);
        sub_->set(zmq::sockopt::linger, 0);
        sub_->set(zmq::sockopt::reconnect_ivl, 100);
        sub_->set(zmq::sockopt::reconnect_ivl_max, 1000);
        sub_->set(zmq::sockopt::subscribe, routing_heartbeat());
        sub_->set(zmq::sockopt::subscribe, routing_presence());
        sub_->set(zmq::sockopt::subscribe, routing_node(cfg_.node_id));

        pull_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pull);
        pull_->set(zmq::sockopt::rcvhwm, kHighWaterMark);
        pull_->set(zmq::sockopt::linger, 0);
        pull_->bind(out_endpoint(incarnation_));
    } catch (const zmq::error_t& e) {
        error = "cannot bind the cluster endpoint " + cfg_.cluster_bind + ": " + e.what();
        return false;
    }
    add_endpoints(cfg_.peers);
    running_ = true;
    thread_ = std::thread([this] { run(); });
    LOG_INFO("cluster mesh on %s (node %s, incarnation %016llx)", endpoint_.c_str(), cfg_.node_id.c_str(),
             static_cast<unsigned long long>(incarnation_));
    return true;
}

void Mesh::stop() {
    if (!running_.exchange(false)) return;
    if (thread_.joinable()) thread_.join();
}

std::unique_ptr<MeshSender> Mesh::make_sender() {
    return std::make_unique<MeshSender>(*ctx_, out_endpoint(incarnation_), metrics_);
}

void Mesh::add_endpoints(const std::vector<std::string>& endpoints) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& ep : endpoints)
        if (ep != endpoint_) new_endpoints_.push_back(ep);
}

void Mesh::set_slot_state(bool competes, bool holding) {
    competes_ = competes;
    holding_ = holding;
}

bool Mesh::may_take_slot() {
    std::lock_guard<std::mutex> lock(mu_);
    ElectionFacts f{cfg_.region == cfg_.slot_region(), mono_ms(), started_ms_, last_region_holder_ms_,
                    region_competitor_up_, static_cast<int64_t>(cfg_.region_takeover_s) * 1000};
    return may_take(f);
}

bool Mesh::should_release_slot() {
    std::lock_guard<std::mutex> lock(mu_);
    ElectionFacts f{cfg_.region == cfg_.slot_region(), mono_ms(), started_ms_, last_region_holder_ms_,
                    region_competitor_up_, static_cast<int64_t>(cfg_.region_takeover_s) * 1000};
    return must_release(f);
}

std::string Mesh::peers_json() {
    std::lock_guard<std::mutex> lock(mu_);
    return peers_json_;
}

void Mesh::run() {
    // The PUSH sockets of other threads connect to pull_; this thread owns pub_, sub_, pull_.
    next_heartbeat_ms_ = 0;
    while (running_) {
        int64_t now = mono_ms();
        long cap = route_checks_.empty() ? 50 : static_cast<long>(kRouteProbeIntervalMs);
        long timeout = next_heartbeat_ms_ > now ? std::min<long>(next_heartbeat_ms_ - now, cap) : 0;
        zmq_pollitem_t items[] = {{static_cast<void*>(*sub_), 0, ZMQ_POLLIN, 0},
                                  {static_cast<void*>(*pull_), 0, ZMQ_POLLIN, 0}};
        try {
            zmq::poll(items, 2, std::chrono::milliseconds(timeout));
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) LOG_ERROR("mesh poll failed: %s", e.what());
        }
        if (items[0].revents & ZMQ_POLLIN) receive();
        if (items[1].revents & ZMQ_POLLIN) forward();

        now = mono_ms();
        Actions actions;
        {
            std::vector<std::string> endpoints;
            {
                std::lock_guard<std::mutex> lock(mu_);
                endpoints.swap(new_endpoints_);
            }
            for (const std::string& ep : endpoints) membership_.add_endpoint(ep, actions);
        }
        check_routes(now);
        if (now >= next_heartbeat_ms_) {
            heartbeat(now);
            next_heartbeat_ms_ = now + cfg_.heartbeat_ms;
            membership_.tick(now, actions);
        }
        apply(actions);
        refresh_views();
    }
}

void Mesh::receive() {
    for (int n = 0; n < kMaxReadsPerWake; ++n) {
        std::vector<zmq::message_t> parts;
        auto got = zmq::recv_multipart(*sub_, std::back_inserter(parts), zmq::recv_flags::dontwait);
        if (!got) return;
        if (parts.size() != 3) continue;
        Header h;
        if (!decode_header(parts[1].to_string_view(), h)) {
            LOG_WARN("dropping an unreadable mesh message");
            continue;
        }
        metrics_.mesh_received++;
        int64_t now = mono_ms();
        Actions actions;
        if (!membership_.on_message(h, now, actions)) continue;
        std::string_view body = parts[2].to_string_view();
        switch (h.type) {
            case MsgType::Heartbeat: {
                Heartbeat hb;
                if (decode(body, hb)) membership_.on_heartbeat(h, hb, now, actions);
                break;
            }
            case MsgType::PresenceDelta: {
                PresenceDelta d;
                if (decode(body, d)) membership_.on_presence_delta(h, std::move(d), now, actions);
                break;
            }
            case MsgType::Snapshot: {
                membership_.node_stream_gap(h);
                PresenceSnapshot s;
                if (decode(body, s)) membership_.on_snapshot(h, std::move(s), now, actions);
                break;
            }
            case MsgType::SnapshotRequest: {
                membership_.node_stream_gap(h);
                std::string from = h.node;
                MeshClient* client = client_;
                if (client) loop_.post([client, from](Hub& hub) { client->send_snapshot(from, hub); });
                break;
            }
            case MsgType::Broadcast: {
                BroadcastMsg msg;
                if (!decode(body, msg)) break;
                if (uint64_t gap = membership_.broadcast_gap(h, msg.topic)) metrics_.mesh_dropped += gap;
                loop_.post([msg = std::move(msg)](Hub& hub) { hub.deliver_broadcast(msg); });
                break;
            }
            case MsgType::RouteProbe: {
                membership_.node_stream_gap(h);
                RouteCheck probe;
                if (!decode(body, probe)) break;
                // Answered on the channel's topic: the asker gets it once its route is here.
                probe.asker = h.node;
                std::string routing = routing_broadcast(probe.topic);
                publish(routing, MsgType::RouteAck, encode(probe), next_seq(routing));
                break;
            }
            case MsgType::RouteAck: {
                RouteCheck ack;
                if (!decode(body, ack)) break;
                if (uint64_t gap = membership_.broadcast_gap(h, ack.topic)) metrics_.mesh_dropped += gap;
                if (ack.asker == cfg_.node_id) route_confirmed(ack.topic, h.node, ack.token);
                break;
            }
            case MsgType::Change: {
                ChangeEvent ev;
                if (!decode(body, ev)) break;
                if (uint64_t gap = membership_.node_stream_gap(h)) {
                    metrics_.change_gaps += gap;
                    LOG_WARN("lost %llu messages from node %s before a change at %X/%X (mesh high-water mark)",
                             static_cast<unsigned long long>(gap), h.node.c_str(),
                             static_cast<unsigned>(ev.pos.commit_lsn >> 32),
                             static_cast<unsigned>(ev.pos.commit_lsn));
                }
                ev.received_us = mono_us();
                loop_.post([ev = std::move(ev)](Hub& hub) { hub.deliver_change(ev); });
                break;
            }
        }
        apply(actions);
    }
}

void Mesh::forward() {
    for (int n = 0; n < kMaxReadsPerWake; ++n) {
        std::vector<zmq::message_t> parts;
        auto got = zmq::recv_multipart(*pull_, std::back_inserter(parts), zmq::recv_flags::dontwait);
        if (!got) return;
        if (parts.size() != 3) continue;
        std::string routing = parts[0].to_string();
        if (routing.empty()) {  // control: subscribe or unsubscribe
            std::string key = parts[2].to_string();
            int& count = subscriptions_[key];
            if (parts[1].to_string_view() == "S") {
                bool channel = key.size() > 3 && key.compare(0, 2, "B:") == 0;
                std::string topic = channel ? key.substr(2, key.size() - 3) : "";
                if (count++ == 0) {
                    sub_->set(zmq::sockopt::subscribe, key);
                    // "B:<topic>\0": a channel's broadcasts, whose sequences restart for us.
                    if (channel) {
                        membership_.forget_broadcast_seq(topic);
                        start_route_check(topic);
                    }
                } else if (channel) {
                    route_ready(topic);
                }
            } else if (count > 0 && --count == 0) {
                sub_->set(zmq::sockopt::unsubscribe, key);
                subscriptions_.erase(key);
                if (key.size() > 3 && key.compare(0, 2, "B:") == 0) route_checks_.erase(key.substr(2, key.size() - 3));
            }
            continue;
        }
        std::string_view kind = parts[1].to_string_view();
        if (kind.size() != 9) continue;
        auto type = static_cast<MsgType>(kind[0]);
        uint64_t seq = 0;
        if (type == MsgType::PresenceDelta) {
            for (int i = 0; i < 8; ++i) seq |= static_cast<uint64_t>(static_cast<uint8_t>(kind[1 + i])) << (8 * i);
            presence_seq_ = seq;
        } else {
            seq = next_seq(routing);
        }
        publish(routing, type, parts[2].to_string(), seq);
    }
}

// -- route checks (see RouteCheck in wire.h) --------------------------------------------

void Mesh::start_route_check(const std::string& topic) {
    RouteState& check = route_checks_[topic];
    check.token = ++route_token_;
    check.waiting.clear();
    for (const auto& [node, p] : membership_.peers())
        if (p.state == PeerState::Up) check.waiting.push_back(node);
    int64_t now = mono_ms();
    check.deadline_ms = now + std::max(1000, 2 * cfg_.heartbeat_ms);
    check.next_probe_ms = 0;
    check_routes(now);
}

void Mesh::check_routes(int64_t now) {
    for (auto it = route_checks_.begin(); it != route_checks_.end();) {
        RouteState& check = it->second;
        // Peers that went down meanwhile no longer hold the join back.
        check.waiting.erase(std::remove_if(check.waiting.begin(), check.waiting.end(),
                                           [&](const std::string& node) {
                                               auto p = membership_.peers().find(node);
                                               return p == membership_.peers().end() ||
                                                      p->second.state != PeerState::Up;
                                           }),
                            check.waiting.end());
        if (check.waiting.empty() || now >= check.deadline_ms) {
            if (!check.waiting.empty())
                LOG_WARN("cluster: %zu peers did not confirm the route of %s in time; answering the join anyway",
                         check.waiting.size(), it->first.c_str());
            std::string topic = it->first;
            it = route_checks_.erase(it);
            route_ready(topic);
            continue;
        }
        if (now >= check.next_probe_ms) {
            // Until the subscription arrives, the peer's answer is filtered out: ask again.
            check.next_probe_ms = now + kRouteProbeIntervalMs;
            for (const std::string& node : check.waiting) {
                std::string routing = routing_node(node);
                publish(routing, MsgType::RouteProbe, encode(RouteCheck{it->first, "", check.token}), next_seq(routing));
            }
        }
        ++it;
    }
}

void Mesh::route_confirmed(const std::string& topic, const std::string& peer, uint64_t token) {
    auto it = route_checks_.find(topic);
    if (it == route_checks_.end() || it->second.token != token) return;
    auto& waiting = it->second.waiting;
    waiting.erase(std::remove(waiting.begin(), waiting.end(), peer), waiting.end());
    if (waiting.empty()) {
        route_checks_.erase(it);
        route_ready(topic);
    }
}

void Mesh::route_ready(const std::string& topic) {
    loop_.post([topic](Hub& hub) { hub.on_channel_routed(topic); });
}

uint64_t Mesh::next_seq(const std::string& routing) { return ++stream_seq_[routing]; }

void Mesh::publish(const std::string& routing, MsgType type, std::string body, uint64_t seq) {
    Header h{type, cfg_.node_id, incarnation_, seq};
    std::string header = encode_header(h);
    pub_->send(zmq::buffer(routing), zmq::send_flags::sndmore);
    pub_->send(zmq::buffer(header), zmq::send_flags::sndmore);
    zmq::message_t msg(body.data(), body.size());
    pub_->send(msg, zmq::send_flags::none);
    metrics_.mesh_sent++;
}

void Mesh::heartbeat(int64_t now_ms) {
    (void)now_ms;
    Heartbeat hb{endpoint_, cfg_.region, presence_seq_, competes_.load(), holding_.load()};
    publish(routing_heartbeat(), MsgType::Heartbeat, encode(hb), ++heartbeat_seq_);
}

void Mesh::apply(Actions& a) {
    for (const std::string& line : a.log) LOG_INFO("cluster: %s", line.c_str());
    for (const std::string& node : a.forget_presence)
        loop_.post([node](Hub& hub) { hub.remove_remote_presence(node); });
    for (auto& [node, snapshot] : a.snapshots)
        loop_.post([node = node, entries = std::move(snapshot.entries)](Hub& hub) {
            hub.replace_remote_presence(node, entries);
        });
    for (auto& [node, delta] : a.deltas)
        loop_.post([node = node, delta = std::move(delta)](Hub& hub) { hub.apply_remote_presence(node, delta); });
    for (const std::string& node : a.request_snapshot) {
        std::string routing = routing_node(node);
        publish(routing, MsgType::SnapshotRequest, "", next_seq(routing));
    }
    for (const std::string& ep : a.connect) {
        if (ep == endpoint_) continue;
        try {
            sub_->connect(ep);
            LOG_INFO("cluster: subscribing to peer %s", ep.c_str());
        } catch (const zmq::error_t& e) {
            LOG_WARN("cluster: cannot connect to peer %s: %s", ep.c_str(), e.what());
        }
    }
}

void Mesh::refresh_views() {
    std::string json = "[";
    bool first = true;
    for (const auto& [node, p] : membership_.peers()) {
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
    metrics_.peers_up = static_cast<int64_t>(membership_.up_count());
    std::lock_guard<std::mutex> lock(mu_);
    peers_json_ = std::move(json);
    last_region_holder_ms_ = membership_.last_slot_holder_in(cfg_.slot_region());
    region_competitor_up_ = membership_.competitor_up_in(cfg_.slot_region());
}

// -- MeshClient ------------------------------------------------------------------------

void MeshClient::publish_broadcast(const BroadcastMsg& msg) {
    sender_->publish(routing_broadcast(msg.topic), MsgType::Broadcast, encode(msg));
}

void MeshClient::channel_interest(const std::string& topic, bool interested) {
    sender_->subscribe(routing_broadcast(topic), interested);
}

void MeshClient::publish_presence(const PresenceDelta& delta) {
    sender_->publish(routing_presence(), MsgType::PresenceDelta, encode(delta), ++presence_seq_);
}

void MeshClient::send_snapshot(const std::string& to, const Hub& hub) {
    PresenceSnapshot snapshot;
    snapshot.presence_seq = presence_seq_;
    hub.for_each_presence_entry([&](const PresenceDelta& d) { snapshot.entries.push_back(d); });
    sender_->publish(routing_node(to), MsgType::Snapshot, encode(snapshot));
}

}  // namespace rt::cluster
