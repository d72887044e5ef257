// The cluster mesh (I/O): one thread that owns this node's ZeroMQ PUB socket and the SUB
// socket connected to every peer. Other threads never touch those sockets: they hand
// messages to the mesh thread through their own MeshSender (inproc PUSH), which never
// blocks; what arrives from peers goes to the loop through its inbound port.
//
// The mesh thread stamps stream sequence numbers, sends heartbeats, feeds Membership and
// carries out its actions (presence snapshots, liveness), runs the route checks of
// channels this node starts listening to, receives the slot holder's changes in their
// hand-over order and confirms them once the loop processed them (HandOverIntake), tells
// this node's slot holder what peers confirmed (HolderLink), and answers the slot
// election's questions for the slot stream. One handler per message type (the clone
// server's pattern).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/hand_over_intake.h"
#include "cluster/holder_link.h"
#include "cluster/loop_progress.h"
#include "cluster/membership.h"
#include "cluster/mesh_security.h"
#include "cluster/mesh_sender.h"
#include "cluster/route_checks.h"
#include "cluster/slot_election.h"
#include "cluster/wire.h"
#include "cluster/zmq_fwd.h"
#include "relay/core/config.h"
#include "relay/core/metrics.h"
#include "relay/hub/inbound.h"

namespace rt::cluster {

class Mesh {
public:
    Mesh(const Config& cfg, Metrics& metrics, LoopInbound& loop);
    ~Mesh();

    // Binds the PUB socket and starts the thread; false with a reason if it cannot bind.
    bool start(std::string& error);
    void stop();

    // A sender for the calling thread (the loop, the slot stream).
    std::unique_ptr<MeshSender> make_sender();
    // Endpoints learned (any thread); expected: in the first moments after start, joins
    // wait until a peer is heard at each of them (or the startup window ends).
    void add_endpoints(const std::vector<std::string>& endpoints, bool expected);
    // The node registry's list of the other nodes (any thread): their endpoints, and those
    // that beat recently are expected like the peer list's.
    void registry_view(const std::vector<ListedPeer>& peers);
    // This node's slot holder, told what peers confirm (set once, before it streams).
    void set_holder_link(HolderLink* link) { holder_link_.store(link); }
    // True once each time a slot holder is heard again after none was for gap_ms (this
    // node was cut off: the holder may have given up on it meanwhile). Any thread.
    bool holder_returned_after(int64_t gap_ms);
    const std::string& endpoint() const { return endpoint_; }
    // This node's CURVE public key (Z85; empty when the mesh has no keys), for the registry.
    const std::string& public_key() const { return security_.public_key(); }

    // The slot election, asked by the slot stream.
    bool may_take_slot();
    bool should_release_slot();
    // Peers that held the slot and went silent past Config::holder_silence_ms while this
    // node sees a majority and hears no other holder: their walsenders may be ended.
    std::vector<std::string> hung_holders();
    void set_slot_state(bool competes, bool holding);

    // {"node_id","state","region","slot_holder","endpoint"} per peer, as a JSON array.
    std::string peers_json();
    // This node, then every peer, as the inspector lists them (any thread; peers as of
    // the last heartbeat period).
    std::vector<NodeView> node_views();

private:
    void bind_sockets();  // mesh_sockets.cpp, with set_heartbeats and out_endpoint
    std::string out_endpoint() const;
    void set_heartbeats(zmq::socket_t& s) const;
    ElectionFacts election_facts() const;
    void run();
    void receive();
    void handle(const Header& h, std::string_view body, int64_t now, Actions& actions);
    void on_broadcast(const Header& h, std::string_view body);
    void on_route_probe(const Header& h, std::string_view body);
    void on_route_ack(const Header& h, std::string_view body);
    void on_change(const Header& h, std::string_view body);
    void on_base_notice(const Header& h, std::string_view body);
    void on_hand_over_ack(const Header& h, std::string_view body);
    void changes_lost(const std::string& holder);
    void confirm_changes(int64_t now);
    void on_inspect(const Header& h, std::string_view body);
    void on_kept(const Header& h, std::string_view body);  // cluster/mesh_kept.cpp
    void forward();
    void control(const std::string& key, bool subscribe);
    void heartbeat();
    void refresh_node_views(int64_t now);
    void apply(Actions& actions);
    void apply(RouteChecks::Out& out);
    void publish(const std::string& routing, MsgType type, std::string body, uint64_t seq);
    uint64_t next_seq(const std::string& routing);
    void take_new_endpoints(Actions& actions);
    void notice_stall(int64_t now);
    std::vector<std::string> route_peers(int64_t now);
    std::string resolve(const std::string& name, int64_t now);
    void refresh_views();
    void refresh_election(int64_t now);

    const Config& cfg_;
    Metrics& metrics_;
    LoopInbound& loop_;
    std::string endpoint_;
    uint64_t incarnation_;
    int64_t started_ms_;
    // Until then joins also wait for the peers this node was told of but has not heard
    // yet (and for the registry's first answer when there is one).
    int64_t startup_until_ms_;

    std::unique_ptr<zmq::context_t> ctx_;
    MeshSecurity security_;  // its sockets close before the context ends
    std::unique_ptr<zmq::socket_t> pub_;
    std::unique_ptr<zmq::socket_t> sub_;
    std::unique_ptr<zmq::socket_t> pull_;
    std::thread thread_;
    std::atomic<bool> running_{false};

    Membership membership_;
    RouteChecks routes_;
    HandOverIntake intake_;
    LoopProgress processed_;  // the loop's report of the holder's changes its sockets took
    std::atomic<HolderLink*> holder_link_{nullptr};
    std::unordered_map<std::string, uint64_t> stream_seq_;
    std::unordered_map<std::string, int> subscriptions_;  // routing -> count
    uint64_t presence_seq_ = 0;  // the last presence delta published
    uint64_t heartbeat_seq_ = 0;
    int64_t next_heartbeat_ms_ = 0;

    std::atomic<bool> competes_{false};
    std::atomic<bool> holding_{false};

    std::mutex mu_;  // guards what other threads read or hand in
    std::vector<std::string> new_endpoints_;
    std::vector<std::string> new_expected_;
    bool registry_seen_ = false;
    std::string peers_json_ = "[]";
    std::vector<NodeView> node_views_;
    NodeView self_view_;  // the mesh thread's, as of the last heartbeat
    int64_t last_region_holder_ms_ = 0;
    bool region_competitor_up_ = false;
    std::vector<std::string> registry_live_;  // the other nodes the registry lists as beating
    bool majority_ = true;                    // sees_majority, as of the last refresh
    std::vector<std::string> hung_;           // Membership::hung_holders, as of the last refresh
    int64_t last_turn_ms_ = 0;                // the mesh thread's last wake (a stall shows as a gap)
    int64_t holder_heard_ms_ = 0;   // a slot holder (a peer, or this node) was last heard
    int64_t holder_gap_ms_ = 0;     // the longest time without one, until taken
};

}  // namespace rt::cluster
