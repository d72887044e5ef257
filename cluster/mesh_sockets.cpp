// The mesh's sockets (I/O): their options (high-water marks, ZeroMQ's link heartbeats,
// reconnects), CURVE through MeshSecurity, binding, and the endpoint peers are told to
// dial.
#include "cluster/mesh.h"

#include <unistd.h>

#include <zmq.hpp>

namespace rt::cluster {
namespace {

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

// Where other threads' MeshSenders connect (inproc, in this mesh's own context).
std::string Mesh::out_endpoint() const { return "inproc://mesh-out-" + std::to_string(incarnation_); }

// ZeroMQ's connection heartbeats (issue 14, fault 4): a link through a partition is
// closed after the peer-down period instead of waiting on TCP's retransmissions (which
// back off to many seconds), so once the partition heals the SUB socket dials again
// within its reconnect interval (500 ms at most) and the link is back within a second.
void Mesh::set_heartbeats(zmq::socket_t& s) const {
    s.set(zmq::sockopt::heartbeat_ivl, cfg_.heartbeat_ms);
    s.set(zmq::sockopt::heartbeat_timeout, cfg_.peer_down_ms);
    s.set(zmq::sockopt::heartbeat_ttl, cfg_.peer_down_ms);
}

void Mesh::bind_sockets() {
    pub_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pub);
    pub_->set(zmq::sockopt::sndhwm, kHighWaterMark);
    pub_->set(zmq::sockopt::linger, 0);
    set_heartbeats(*pub_);

    sub_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::sub);
    sub_->set(zmq::sockopt::rcvhwm, kHighWaterMark);
    sub_->set(zmq::sockopt::linger, 0);
    sub_->set(zmq::sockopt::reconnect_ivl, 100);
    sub_->set(zmq::sockopt::reconnect_ivl_max, 500);
    sub_->set(zmq::sockopt::connect_timeout, 1000);  // a dial into a partition gives up and tries again
    set_heartbeats(*sub_);
    for (const std::string& key : {routing_heartbeat(), routing_presence(), routing_inspect(), routing_node(cfg_.node_id)})
        sub_->set(zmq::sockopt::subscribe, key);
    security_.client(*sub_);
    security_.serve(*ctx_, *pub_, *sub_);  // CURVE and the ZAP handler before the first peer can connect
    pub_->bind(cfg_.cluster_bind);
    endpoint_ = advertised(pub_->get(zmq::sockopt::last_endpoint));

    pull_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pull);
    pull_->set(zmq::sockopt::rcvhwm, kHighWaterMark);
    pull_->set(zmq::sockopt::linger, 0);
    pull_->bind(out_endpoint());
}

}  // namespace rt::cluster
