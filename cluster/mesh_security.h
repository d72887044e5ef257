// The mesh's CURVE security (I/O; the decisions are in mesh_keys): this node's key pair
// and the public keys it trusts, read at start; the CURVE options of the PUB socket (the
// CURVE server: peers connect to it) and of the SUB socket (a CURVE client of every peer,
// with that peer's public key as the server key of its connection); and a thread of its
// own with the ZAP handler (inproc://zeromq.zap.01: libzmq asks it about every peer that
// connects, it admits trusted keys only) and the monitors that count failed handshakes.
// The handshakes themselves are libzmq's I/O threads' work: none of it runs on the mesh
// thread or the loop.
//
// Without --cluster-key the mesh is plain ZeroMQ, allowed on a loopback endpoint only.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cluster/zmq_fwd.h"
#include "relay/core/config.h"
#include "relay/core/metrics.h"

namespace rt::cluster {

class MeshSecurity {
public:
    MeshSecurity(const Config& cfg, Metrics& metrics);
    ~MeshSecurity();

    // Reads the keys and the peer list (the peers' endpoints into endpoints). False with
    // a reason naming the flag: no CURVE in libzmq, a key file that cannot be used, a
    // peer without a key, keys for peers but none for this node, a non-loopback
    // --cluster-bind without keys.
    bool load(std::vector<std::string>& endpoints, std::string& error);
    bool enabled() const { return !secret_.empty(); }
    const std::string& public_key() const { return public_; }  // Z85; empty when not enabled

    // Before pub binds: the CURVE server options, the ZAP handler and the monitors'
    // thread (which also watches sub's handshakes: call after client()).
    void serve(zmq::context_t& ctx, zmq::socket_t& pub, zmq::socket_t& sub);
    void client(zmq::socket_t& sub);
    // Before sub connects to endpoint: its server key. False when none is known (it is
    // then not dialed).
    bool dial(zmq::socket_t& sub, const std::string& endpoint);
    // The registry's word on the key at endpoint (any thread): kept if it is trusted.
    void learn(const std::string& endpoint, const std::string& key);
    void stop();

private:
    bool load_secret(std::string& error);
    bool load_trusted(std::string& error);
    bool load_peers(std::vector<std::string>& endpoints, std::string& error);
    void monitor(zmq::context_t& ctx, zmq::socket_t& socket, const std::string& name);
    void run();
    void answer_zap();
    void on_event(zmq::socket_t& monitor);

    const Config& cfg_;
    Metrics& metrics_;
    std::string secret_, public_;              // Z85
    std::unordered_set<std::string> trusted_;  // read-only once loaded (the ZAP thread reads it)
    std::mutex mu_;
    std::unordered_map<std::string, std::string> endpoint_keys_;  // guarded by mu_
    std::unordered_set<std::string> registry_warned_;             // guarded by mu_
    std::unordered_set<std::string> warned_;                      // the ZAP thread's
    std::unique_ptr<zmq::socket_t> zap_;
    std::vector<std::unique_ptr<zmq::socket_t>> monitors_;
    zmq::socket_t* sub_monitor_ = nullptr;  // one of monitors_: its failures name the peer dialed
    std::thread thread_;
    std::atomic<bool> running_{false};
};

}  // namespace rt::cluster
