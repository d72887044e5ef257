// The cluster mesh (I/O): one thread that owns this node's ZeroMQ PUB socket and the SUB
// socket connected to every peer. Other threads never touch those sockets: they hand
// messages to the mesh thread through their own inproc PUSH socket (MeshSender), which
// never blocks; what arrives from peers goes to the loop through its mailbox.
//
// The mesh thread stamps stream sequence numbers, sends heartbeats, feeds Membership and
// carries out its actions (presence snapshots, liveness), and answers the questions of
// the slot election for the replication thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/membership.h"
#include "cluster/wire.h"
#include "relay/core/config.h"
#include "relay/hub/hub.h"
#include "relay/core/mailbox.h"
#include "relay/core/metrics.h"
#include "relay/hub/ports.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace rt::cluster {

// A producer thread's way into the mesh: one inproc PUSH socket, used by one thread.
class MeshSender {
public:
    MeshSender(zmq::context_t& ctx, const std::string& endpoint, Metrics& metrics);
    ~MeshSender();
    // Queues a message for publication; false (and counted) when the mesh is saturated.
    bool publish(const std::string& routing, MsgType type, std::string body, uint64_t presence_seq = 0);
    // Control messages for the mesh thread.
    void subscribe(const std::string& routing, bool on);

private:
    std::unique_ptr<zmq::socket_t> push_;
    Metrics& metrics_;
};

class Mesh {
public:
    Mesh(const Config& cfg, Metrics& metrics, Mailbox<Hub>& loop);
    ~Mesh();

    // Binds the PUB socket and starts the thread; false with a reason if it cannot bind.
    bool start(std::string& error);
    void stop();

    // The loop's side of the mesh, which answers peers' snapshot requests.
    void set_client(class MeshClient* client) { client_ = client; }
    // A sender for the calling thread (the loop, the replication thread).
    std::unique_ptr<MeshSender> make_sender();
    // Endpoints learned from the node registry (any thread).
    void add_endpoints(const std::vector<std::string>& endpoints);
    const std::string& endpoint() const { return endpoint_; }

    // The slot election, asked by the replication thread.
    bool may_take_slot();
    bool should_release_slot();
    void set_slot_state(bool competes, bool holding);

    // {"node_id","state","region","slot_holder","endpoint"} per peer, as a JSON array.
    std::string peers_json();

private:
    void run();
    void receive();
    void forward();
    void heartbeat(int64_t now_ms);
    void apply(Actions& actions);
    void publish(const std::string& routing, MsgType type, std::string body, uint64_t seq);
    uint64_t next_seq(const std::string& routing);
    void start_route_check(const std::string& topic);
    void check_routes(int64_t now_ms);
    void route_confirmed(const std::string& topic, const std::string& peer, uint64_t token);
    void route_ready(const std::string& topic);
    void refresh_views();

    const Config& cfg_;
    Metrics& metrics_;
    Mailbox<Hub>& loop_;
    std::string endpoint_;
    uint64_t incarnation_;
    int64_t started_ms_;

    std::unique_ptr<zmq::context_t> ctx_;
    std::unique_ptr<zmq::socket_t> pub_;
    std::unique_ptr<zmq::socket_t> sub_;
    std::unique_ptr<zmq::socket_t> pull_;
    std::thread thread_;
    std::atomic<bool> running_{false};

    MeshClient* client_ = nullptr;
    Membership membership_;
    std::unordered_map<std::string, uint64_t> stream_seq_;
    std::unordered_map<std::string, int> subscriptions_;  // routing -> count
    struct RouteState {
        uint64_t token = 0;
        std::vector<std::string> waiting;  // peers whose RouteAck has not arrived
        int64_t deadline_ms = 0;
        int64_t next_probe_ms = 0;
    };
    std::unordered_map<std::string, RouteState> route_checks_;  // topic -> check in progress
    uint64_t route_token_ = 0;
    uint64_t presence_seq_ = 0;  // the last presence delta published
    uint64_t heartbeat_seq_ = 0;
    int64_t next_heartbeat_ms_ = 0;

    std::atomic<bool> competes_{false};
    std::atomic<bool> holding_{false};

    std::mutex mu_;  // guards what other threads read or hand in
    std::vector<std::string> new_endpoints_;
    std::string peers_json_ = "[]";
    int64_t last_region_holder_ms_ = 0;
    bool region_competitor_up_ = false;
};

// The cluster as the hub sees it (loop thread).
class MeshClient : public ClusterPort {
public:
    MeshClient(std::unique_ptr<MeshSender> sender) : sender_(std::move(sender)) {}
    void publish_broadcast(const BroadcastMsg& msg) override;
    void channel_interest(const std::string& topic, bool interested) override;
    void publish_presence(const PresenceDelta& delta) override;
    // A peer asked for our presence entries.
    void send_snapshot(const std::string& to, const Hub& hub);

private:
    std::unique_ptr<MeshSender> sender_;
    uint64_t presence_seq_ = 0;
};

}  // namespace rt::cluster
