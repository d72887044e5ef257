// The mesh thread: heartbeats, stream sequence numbers, one handler per message type from
// peers, and what producer threads hand over (the sockets' setup is in mesh_sockets.cpp,
// the slot election's facts in mesh_slot.cpp).
#include "cluster/mesh.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "relay/core/clock.h"
#include "relay/core/log.h"
#include "relay/core/topic.h"

namespace rt::cluster {
namespace {

constexpr int kMaxReadsPerWake = 2000;

const char* const kAwaitRegistry = "@registry";  // a route check's name for the registry's first answer

// Hands each waiting message of three frames on socket to fn, up to kMaxReadsPerWake
// (the others wait for the next wake, so one busy socket does not starve the other).
template <typename Fn>
void drain(zmq::socket_t& socket, Fn fn) {
    for (int n = 0; n < kMaxReadsPerWake; ++n) {
        std::vector<zmq::message_t> parts;
        auto got = zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait);
        if (!got) return;
        if (parts.size() == 3) fn(parts);
    }
}

}  // namespace

Mesh::Mesh(const Config& cfg, Metrics& metrics, LoopInbound& loop)
    : cfg_(cfg),
      metrics_(metrics),
      loop_(loop),
      incarnation_(std::random_device{}() | (static_cast<uint64_t>(std::random_device{}()) << 32)),
      started_ms_(mono_ms()),
      startup_until_ms_(started_ms_ + cfg.peer_down_ms + 2000),
      ctx_(std::make_unique<zmq::context_t>(1)),
      security_(cfg, metrics),
      membership_(cfg.node_id, cfg.peer_down_ms) {}

Mesh::~Mesh() { stop(); }

bool Mesh::start(std::string& error) {
    std::vector<std::string> peers;
    if (!security_.load(peers, error)) return false;
    try {
        bind_sockets();
    } catch (const zmq::error_t& e) {
        error = "cannot bind the cluster endpoint " + cfg_.cluster_bind + ": " + e.what();
        return false;
    }
    add_endpoints(peers, true);
    running_ = true;
    thread_ = std::thread([this] { run(); });
    LOG_INFO("cluster mesh on %s (node %s, incarnation %016llx, %s)", endpoint_.c_str(), cfg_.node_id.c_str(),
             static_cast<unsigned long long>(incarnation_),
             security_.enabled() ? ("CURVE, public key " + public_key()).c_str() : "no keys: loopback only");
    return true;
}

void Mesh::stop() {
    if (running_.exchange(false) && thread_.joinable()) thread_.join();
    security_.stop();
}

std::unique_ptr<MeshSender> Mesh::make_sender() {
    return std::make_unique<MeshSender>(*ctx_, out_endpoint(), metrics_);
}

void Mesh::add_endpoints(const std::vector<std::string>& endpoints, bool expected) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& ep : endpoints) {
        if (ep == endpoint_) continue;
        new_endpoints_.push_back(ep);
        if (expected) new_expected_.push_back(ep);
    }
}

// A node beats every second: one heard within the down period (and a beat) is live.
void Mesh::registry_view(const std::vector<ListedPeer>& peers) {
    std::vector<std::string> all, live, live_nodes;
    for (const ListedPeer& p : peers) {
        security_.learn(p.endpoint, p.public_key);
        all.push_back(p.endpoint);
        if (p.age_s * 1000 > cfg_.peer_down_ms + 1500) continue;
        live.push_back(p.endpoint);
        live_nodes.push_back(p.node);
    }
    add_endpoints(all, false);
    add_endpoints(live, true);
    std::lock_guard<std::mutex> lock(mu_);
    registry_seen_ = true;
    registry_live_ = std::move(live_nodes);
}

std::string Mesh::peers_json() {
    std::lock_guard<std::mutex> lock(mu_);
    return peers_json_;
}

std::vector<NodeView> Mesh::node_views() {
    std::lock_guard<std::mutex> lock(mu_);
    return node_views_;
}

void Mesh::run() {
    // The PUSH sockets of other threads connect to pull_; this thread owns pub_, sub_, pull_.
    next_heartbeat_ms_ = 0;
    while (running_) {
        int64_t now = mono_ms();
        long cap = routes_.empty() && intake_.streams() == 0 ? 50 : static_cast<long>(RouteChecks::kProbeIntervalMs);
        long timeout = next_heartbeat_ms_ > now ? std::min<long>(next_heartbeat_ms_ - now, cap) : 0;
        zmq_pollitem_t items[] = {{static_cast<void*>(*sub_), 0, ZMQ_POLLIN, 0},
                                  {static_cast<void*>(*pull_), 0, ZMQ_POLLIN, 0},
                                  {nullptr, processed_.fd(), ZMQ_POLLIN, 0}};  // the loop wrote changes
        try {
            zmq::poll(items, processed_.fd() >= 0 ? 3 : 2, std::chrono::milliseconds(timeout));
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) LOG_ERROR("mesh poll failed: %s", e.what());
        }
        notice_stall(mono_ms());
        if (items[0].revents & ZMQ_POLLIN) receive();
        if (items[1].revents & ZMQ_POLLIN) forward();
        if (items[2].revents & ZMQ_POLLIN) processed_.woken();

        now = mono_ms();
        confirm_changes(now);
        Actions actions;
        take_new_endpoints(actions);
        RouteChecks::Out routed;
        routes_.check(now, [this, now](const std::string& name) { return resolve(name, now); }, routed);
        apply(routed);
        if (now >= next_heartbeat_ms_) {
            heartbeat();
            next_heartbeat_ms_ = now + cfg_.heartbeat_ms;
            membership_.tick(now, actions);
        }
        apply(actions);
        refresh_views();
    }
}

void Mesh::take_new_endpoints(Actions& actions) {
    std::vector<std::string> endpoints, expected;
    {
        std::lock_guard<std::mutex> lock(mu_);
        endpoints.swap(new_endpoints_);
        expected.swap(new_expected_);
    }
    for (const std::string& ep : endpoints) membership_.add_endpoint(ep, actions);
    int64_t now = mono_ms();
    if (now >= startup_until_ms_) return;
    std::vector<std::string> names;
    for (const std::string& ep : expected)
        if (membership_.expect(ep, startup_until_ms_) && membership_.expected(ep, now)) names.push_back("@" + ep);
    if (!names.empty()) routes_.expect(names);  // checks in progress wait for them too
}

// Whom a new channel's route check waits for: the peers up, and just after start those
// this node was told of but has not heard yet.
std::vector<std::string> Mesh::route_peers(int64_t now) {
    std::vector<std::string> names = membership_.up_peers();
    if (now >= startup_until_ms_) return names;
    for (const std::string& ep : membership_.unheard(now)) names.push_back("@" + ep);
    std::lock_guard<std::mutex> lock(mu_);
    if (!cfg_.db.empty() && !registry_seen_) names.emplace_back(kAwaitRegistry);
    return names;
}

// What a route check's name stands for now (RouteChecks::Resolve).
std::string Mesh::resolve(const std::string& name, int64_t now) {
    if (!RouteChecks::is_placeholder(name)) return membership_.is_up(name) ? name : "";
    if (name == kAwaitRegistry) {
        std::lock_guard<std::mutex> lock(mu_);
        return registry_seen_ || now >= startup_until_ms_ ? "" : name;
    }
    std::string endpoint = name.substr(1);
    std::string node = membership_.node_at(endpoint);
    if (!node.empty()) return node;
    return membership_.expected(endpoint, now) ? name : "";
}

// -- from peers -----------------------------------------------------------------------

void Mesh::receive() {
    drain(*sub_, [this](std::vector<zmq::message_t>& parts) {
        Header h;
        if (!decode_header(parts[1].to_string_view(), h)) {
            LOG_WARN("dropping an unreadable mesh message");
            return;
        }
        metrics_.mesh_received++;
        int64_t now = mono_ms();
        Actions actions;
        if (!membership_.on_message(h, now, actions)) return;
        handle(h, parts[2].to_string_view(), now, actions);
        apply(actions);
    });
}

void Mesh::handle(const Header& h, std::string_view body, int64_t now, Actions& actions) {
    switch (h.type) {
        case MsgType::Heartbeat: {
            Heartbeat hb;
            if (!decode(body, hb)) break;
            if (hb.slot_holder && (holding_.load() || membership_.other_holder_heard(h.node, now, 2 * cfg_.heartbeat_ms))) {
                metrics_.slot_holder_conflicts++;  // what a stalled holder must never cause (fault 5)
                LOG_WARN("cluster: node %s says it holds the slot while another node does", h.node.c_str());
            }
            membership_.on_heartbeat(h, hb, now, actions);
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
        case MsgType::SnapshotRequest:
            membership_.node_stream_gap(h);
            loop_.presence_snapshot_wanted(h.node);
            break;
        case MsgType::Broadcast: on_broadcast(h, body); break;
        case MsgType::RouteProbe: on_route_probe(h, body); break;
        case MsgType::RouteAck: on_route_ack(h, body); break;
        case MsgType::Change: on_change(h, body); break;
        case MsgType::HandOverBase: on_base_notice(h, body); break;
        case MsgType::HandOverAck: on_hand_over_ack(h, body); break;
        case MsgType::InspectQuery:
        case MsgType::InspectAnswer: on_inspect(h, body); break;
        case MsgType::KeptAsk:
        case MsgType::KeptHandOver: on_kept(h, body); break;
    }
}

void Mesh::on_broadcast(const Header& h, std::string_view body) {
    BroadcastMsg msg;
    if (!decode(body, msg)) return;
    if (uint64_t gap = membership_.broadcast_gap(h, topic::channel_key(msg.topic, msg.is_private)))
        metrics_.mesh_dropped += gap;
    if (msg.sent_ms && wall_ms() - msg.sent_ms > cfg_.broadcast_max_age_ms) {
        metrics_.broadcasts_stale++;  // queued through a partition: live messages only (issue 14, fault 3)
        return;
    }
    loop_.peer_broadcast(std::move(msg));
}

// Answered on the channel's topic: the asker gets it once its route is here.
void Mesh::on_route_probe(const Header& h, std::string_view body) {
    membership_.node_stream_gap(h);
    RouteCheck probe;
    if (!decode(body, probe)) return;
    probe.asker = h.node;
    std::string routing = routing_broadcast(probe.topic);
    publish(routing, MsgType::RouteAck, encode(probe), next_seq(routing));
}

void Mesh::on_route_ack(const Header& h, std::string_view body) {
    RouteCheck ack;
    if (!decode(body, ack)) return;
    if (uint64_t gap = membership_.broadcast_gap(h, ack.topic)) metrics_.mesh_dropped += gap;
    if (ack.asker != cfg_.node_id) return;
    RouteChecks::Out out;
    routes_.confirmed(ack.topic, h.node, ack.token, out);
    apply(out);
}

// In the hand-over's order only; the loop reports what its sockets took (processed_,
// which wakes this thread), and confirm_changes() tells the holder at once.
void Mesh::on_change(const Header& h, std::string_view body) {
    HandOverTag tag;
    ChangeEvent ev;
    if (!decode_change(body, tag, ev)) return;
    if (uint64_t gap = membership_.node_stream_gap(h)) {
        metrics_.change_gaps += gap;
        LOG_INFO("%llu messages from node %s were lost on the way (its changes are resent)",
                 static_cast<unsigned long long>(gap), h.node.c_str());
    }
    HandOverIntake::Result r = intake_.receive(h.node, tag, mono_ms());
    if (r.lost) changes_lost(h.node);
    if (r.verdict != HandOverIntake::Verdict::Deliver) return;
    ev.received_us = mono_us();
    loop_.peer_change(std::move(ev), processed_);
}

void Mesh::on_base_notice(const Header& h, std::string_view body) {
    membership_.node_stream_gap(h);
    HandOverTag tag;
    if (decode(body, tag) && intake_.base_notice(h.node, tag, mono_ms())) changes_lost(h.node);
}

void Mesh::on_hand_over_ack(const Header& h, std::string_view body) {
    membership_.node_stream_gap(h);
    HandOverAck ack;
    if (!decode(body, ack)) return;
    metrics_.handover_acks++;
    if (HolderLink* link = holder_link_.load()) link->confirmed(h.node, ack);
}

// The holder dropped changes meant for this node (it was away past the backlog's bounds):
// the members with change bindings are asked to rejoin rather than left with a hole.
void Mesh::changes_lost(const std::string& holder) {
    metrics_.handover_lost++;
    LOG_WARN("cluster: slot holder %s dropped changes for this node while it was away; its change subscribers rejoin",
             holder.c_str());
    loop_.subscriptions_present({});
}

void Mesh::confirm_changes(int64_t now) {
    intake_.processed(processed_.count());
    std::vector<std::pair<std::string, HandOverAck>> acks;
    intake_.due(now, acks);
    for (auto& [holder, ack] : acks) {
        std::string routing = routing_node(holder);
        publish(routing, MsgType::HandOverAck, encode(ack), next_seq(routing));
    }
}

// Questions come on "Q" (no gap counting: a lost one is only an answer missing from an
// admin's page); answers on this node's own stream.
void Mesh::on_inspect(const Header& h, std::string_view body) {
    if (h.type == MsgType::InspectQuery) {
        InspectQuery q;
        if (decode(body, q)) loop_.inspect_query(h.node, std::move(q));
        return;
    }
    membership_.node_stream_gap(h);
    InspectAnswer a;
    if (decode(body, a)) loop_.inspect_answer(h.node, std::move(a));
}

// -- from this node's threads -----------------------------------------------------------

void Mesh::forward() {
    drain(*pull_, [this](std::vector<zmq::message_t>& parts) {
        std::string routing = parts[0].to_string();
        if (routing.empty()) {  // control: subscribe or unsubscribe
            control(parts[2].to_string(), parts[1].to_string_view() == "S");
            return;
        }
        MsgType type;
        uint64_t seq = 0;
        if (!decode_kind(parts[1].to_string_view(), type, seq)) return;
        if (type == MsgType::PresenceDelta)
            presence_seq_ = seq;  // stamped by the loop, which numbers its deltas
        else
            seq = next_seq(routing);
        publish(routing, type, parts[2].to_string(), seq);
    });
}

// A channel's key "B:<topic>\0" subscribed for the first time starts a route check (its
// sequences restart for us); later subscribers of a routed channel are answered at once.
void Mesh::control(const std::string& key, bool subscribe) {
    int& count = subscriptions_[key];
    std::string topic;
    bool channel = broadcast_topic(key, topic);
    if (subscribe) {
        if (count++ == 0) {
            sub_->set(zmq::sockopt::subscribe, key);
            if (!channel) return;
            membership_.forget_broadcast_seq(topic);
            int64_t now = mono_ms();
            int64_t deadline = now + std::max(1000, 2 * cfg_.heartbeat_ms);
            if (now < startup_until_ms_) deadline = std::max(deadline, startup_until_ms_);
            RouteChecks::Out out;
            routes_.start(topic, route_peers(now), now, deadline,
                          [this, now](const std::string& name) { return resolve(name, now); }, out);
            apply(out);
        } else if (channel) {
            loop_.channel_routed(topic);
        }
    } else if (count > 0 && --count == 0) {
        sub_->set(zmq::sockopt::unsubscribe, key);
        subscriptions_.erase(key);
        if (channel) routes_.cancel(topic);
    }
}

// -- to peers ---------------------------------------------------------------------------

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

void Mesh::heartbeat() {
    int64_t now = mono_ms();
    Heartbeat hb{endpoint_, cfg_.region, presence_seq_, competes_.load(), holding_.load(), read_node(metrics_, now)};
    publish(routing_heartbeat(), MsgType::Heartbeat, encode(hb), ++heartbeat_seq_);
    self_view_.node = cfg_.node_id;
    self_view_.self = self_view_.up = true;
    self_view_.region = cfg_.region;
    self_view_.endpoint = endpoint_;
    self_view_.incarnation = incarnation_;
    self_view_.slot_holder = hb.slot_holder;
    self_view_.reading = std::move(hb.reading);
    refresh_node_views(now);
}

// The inspector's list: at each heartbeat (peers' readings), and as soon as a peer's
// state changes (refresh_views), so that a question asks every peer that is up.
void Mesh::refresh_node_views(int64_t now) {
    std::vector<NodeView> views = membership_.views(now);
    if (!self_view_.node.empty()) views.insert(views.begin(), self_view_);  // after the first heartbeat
    std::lock_guard<std::mutex> lock(mu_);
    node_views_ = std::move(views);
}

void Mesh::apply(RouteChecks::Out& out) {
    for (const std::string& line : out.warnings) LOG_WARN("cluster: %s", line.c_str());
    for (std::string& topic : out.ready) loop_.channel_routed(std::move(topic));
    for (auto& [node, probe] : out.probes) {
        std::string routing = routing_node(node);
        publish(routing, MsgType::RouteProbe, encode(probe), next_seq(routing));
    }
}

void Mesh::apply(Actions& a) {
    for (const std::string& line : a.log) LOG_INFO("cluster: %s", line.c_str());
    for (const std::string& node : a.forget_presence) loop_.peer_presence_gone(node);
    if (HolderLink* link = holder_link_.load()) {
        for (const std::string& node : a.returned) link->returned(node);
        for (const std::string& node : a.left) link->left(node);
    }
    for (auto& [node, snapshot] : a.snapshots) loop_.peer_presence_snapshot(node, std::move(snapshot.entries));
    for (auto& [node, delta] : a.deltas) loop_.peer_presence(node, std::move(delta));
    for (const std::string& node : a.request_snapshot) {
        std::string routing = routing_node(node);
        publish(routing, MsgType::SnapshotRequest, "", next_seq(routing));
    }
    for (const std::string& ep : a.connect) {
        if (ep == endpoint_ || !security_.dial(*sub_, ep)) continue;
        try {
            sub_->connect(ep);
            LOG_INFO("cluster: subscribing to peer %s", ep.c_str());
        } catch (const zmq::error_t& e) {
            LOG_WARN("cluster: cannot connect to peer %s: %s", ep.c_str(), e.what());
        }
    }
}

void Mesh::refresh_views() {
    std::string json = membership_.peers_json();
    metrics_.peers_up = static_cast<int64_t>(membership_.up_count());
    int64_t now = mono_ms();
    bool changed;
    {
    std::lock_guard<std::mutex> lock(mu_);
    if (holding_.load() || membership_.holder_up()) {
        holder_gap_ms_ = std::max(holder_gap_ms_, now - (holder_heard_ms_ ? holder_heard_ms_ : started_ms_));
        holder_heard_ms_ = now;
    }
    changed = json != peers_json_;
    peers_json_ = std::move(json);
    last_region_holder_ms_ = membership_.last_slot_holder_in(cfg_.slot_region());
    region_competitor_up_ = membership_.competitor_up_in(cfg_.slot_region());
    refresh_election(now);
    }
    if (changed) refresh_node_views(now);
}

}  // namespace rt::cluster
