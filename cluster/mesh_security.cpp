// The mesh's CURVE keys, socket options, ZAP handler and handshake monitors (see
// mesh_security.h).
#include "cluster/mesh_security.h"

#include <dirent.h>
#include <sys/stat.h>
#include <zmq.h>

#include <algorithm>
#include <cstring>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cluster/mesh_keys.h"
#include "relay/core/file_text.h"
#include "relay/core/log.h"

namespace rt::cluster {
namespace {

constexpr long kMaxKeyFileBytes = 1 << 20;
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";  // where libzmq asks (RFC 27)
constexpr const char* kZapDomain = "realtime-mesh";
constexpr int kFailedHandshake =
    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

bool read_keys(const std::string& path, const std::string& what, std::vector<std::string>& keys, std::string& error) {
    std::string text;
    if (!read_file_text(path, kMaxKeyFileBytes, text, error)) {
        error = what + " " + path + ": " + error;
        return false;
    }
    return parse_keys(text, what + " " + path, keys, error);
}

// The *.pub files of dir, in name order (errors name the file).
bool read_key_dir(const std::string& dir, std::vector<std::string>& keys, std::string& error) {
    DIR* d = opendir(dir.c_str());
    if (!d) {
        error = "--cluster-peer-keys " + dir + ": cannot open it: " + strerror(errno);
        return false;
    }
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name.size() > 4 && name.compare(name.size() - 4, 4, ".pub") == 0) names.push_back(name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names)
        if (!read_keys(dir + "/" + name, "--cluster-peer-keys", keys, error)) return false;
    return true;
}

std::string z85(const uint8_t* key) {
    char text[kZ85KeyLength + 1] = {};
    zmq_z85_encode(text, key, 32);
    return text;
}

}  // namespace

MeshSecurity::MeshSecurity(const Config& cfg, Metrics& metrics) : cfg_(cfg), metrics_(metrics) {}

MeshSecurity::~MeshSecurity() { stop(); }

bool MeshSecurity::load(std::vector<std::string>& endpoints, std::string& error) {
    if (!cfg_.cluster_key.empty() && !load_secret(error)) return false;
    if (!load_trusted(error) || !load_peers(endpoints, error)) return false;
    if (!enabled() && !trusted_.empty()) {
        error = "public keys of peers are given (--peers ...@KEY or --cluster-peer-keys) but not this node's "
                "secret key: add --cluster-key FILE (realtime-relay keygen --out DIR writes DIR/node.key)";
        return false;
    }
    if (!enabled() && !is_loopback_endpoint(cfg_.cluster_bind)) {
        error = "--cluster-bind " + cfg_.cluster_bind + " is reachable from other machines and the mesh carries " +
                "every broadcast, presence and change: give this node's CURVE secret key with --cluster-key FILE " +
                "(made by realtime-relay keygen --out DIR) and the peers' public keys (--peers " +
                "tcp://HOST:PORT@KEY or --cluster-peer-keys), or bind a loopback address";
        return false;
    }
    return true;
}

bool MeshSecurity::load_secret(std::string& error) {
    const std::string& path = cfg_.cluster_key;
    if (!zmq_has("curve")) {
        error = "--cluster-key needs CURVE, which this libzmq was built without (zmq_has(\"curve\") is false)";
        return false;
    }
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && !secret_mode_ok(st.st_mode)) {
        error = "--cluster-key " + path + " can be read by others: chmod 600 " + path;
        return false;
    }
    std::vector<std::string> keys;
    if (!read_keys(path, "--cluster-key", keys, error)) return false;
    if (keys.size() != 1) {
        error = "--cluster-key " + path + ": expected one CURVE secret key, found " + std::to_string(keys.size());
        return false;
    }
    char pub[kZ85KeyLength + 1] = {};
    if (zmq_curve_public(pub, keys[0].c_str()) != 0) {
        error = "--cluster-key " + path + ": not a CURVE secret key";
        return false;
    }
    secret_ = keys[0];
    public_ = pub;
    trusted_.insert(public_);  // one directory of every node's key serves every node
    return true;
}

bool MeshSecurity::load_trusted(std::string& error) {
    const std::string& path = cfg_.cluster_peer_keys;
    if (path.empty()) return true;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        error = "--cluster-peer-keys " + path + ": " + strerror(errno);
        return false;
    }
    std::vector<std::string> keys;
    bool ok = S_ISDIR(st.st_mode) ? read_key_dir(path, keys, error) : read_keys(path, "--cluster-peer-keys", keys, error);
    trusted_.insert(keys.begin(), keys.end());
    return ok;
}

// A peer given with its key is trusted; with keys, every peer needs one (it is the
// server key of its connection).
bool MeshSecurity::load_peers(std::vector<std::string>& endpoints, std::string& error) {
    for (const std::string& text : cfg_.peers) {
        PeerSpec peer;
        if (!parse_peer(text, peer, error)) return false;
        if (!peer.key.empty()) {
            trusted_.insert(peer.key);
            endpoint_keys_[peer.endpoint] = peer.key;
        } else if (!cfg_.cluster_key.empty()) {
            error = "--peers " + peer.endpoint + " has no public key: with --cluster-key every peer is given as " +
                    "tcp://HOST:PORT@KEY (the KEY of its NAME.pub)";
            return false;
        }
        endpoints.push_back(peer.endpoint);
    }
    return true;
}

void MeshSecurity::client(zmq::socket_t& sub) {
    if (!enabled()) return;
    sub.set(zmq::sockopt::curve_publickey, public_);
    sub.set(zmq::sockopt::curve_secretkey, secret_);
}

bool MeshSecurity::dial(zmq::socket_t& sub, const std::string& endpoint) {
    if (!enabled()) return true;
    std::string key;
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = endpoint_keys_.find(endpoint);
        if (it != endpoint_keys_.end()) key = it->second;
    }
    if (key.empty()) {
        LOG_WARN("cluster: no trusted public key for peer %s: not dialing it (give it as --peers %s@KEY, or its "
                 "key in --cluster-peer-keys for the registry to name it)",
                 endpoint.c_str(), endpoint.c_str());
        return false;
    }
    sub.set(zmq::sockopt::curve_serverkey, key);  // applies to the connects that follow
    return true;
}

void MeshSecurity::learn(const std::string& endpoint, const std::string& key) {
    if (!enabled() || key.empty()) return;
    if (!trusted_.count(key)) {
        std::lock_guard<std::mutex> lock(mu_);
        if (registry_warned_.insert(endpoint + " " + key).second)
            LOG_WARN("cluster: the registry lists %s with a public key this node does not trust: not dialing it",
                     endpoint.c_str());
        return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    endpoint_keys_.emplace(endpoint, key);  // a key given in --peers stays
}

void MeshSecurity::serve(zmq::context_t& ctx, zmq::socket_t& pub, zmq::socket_t& sub) {
    if (!enabled()) return;
    zap_ = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::rep);
    zap_->set(zmq::sockopt::linger, 0);
    zap_->bind(kZapEndpoint);  // before pub binds: no peer gets in unasked
    pub.set(zmq::sockopt::curve_server, true);
    pub.set(zmq::sockopt::curve_secretkey, secret_);
    pub.set(zmq::sockopt::zap_domain, kZapDomain);
    monitor(ctx, pub, "pub");
    monitor(ctx, sub, "sub");
    running_ = true;
    thread_ = std::thread([this] { run(); });
}

void MeshSecurity::monitor(zmq::context_t& ctx, zmq::socket_t& socket, const std::string& name) {
    std::string endpoint = "inproc://mesh-monitor-" + name;
    if (zmq_socket_monitor(static_cast<void*>(socket), endpoint.c_str(), kFailedHandshake) != 0) {
        LOG_WARN("cluster: cannot monitor the mesh's %s socket: %s", name.c_str(), zmq_strerror(zmq_errno()));
        return;
    }
    auto pair = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::pair);
    pair->set(zmq::sockopt::linger, 0);
    pair->connect(endpoint);
    if (name == "sub") sub_monitor_ = pair.get();
    monitors_.push_back(std::move(pair));
}

void MeshSecurity::stop() {
    if (!running_.exchange(false)) return;
    if (thread_.joinable()) thread_.join();
    monitors_.clear();
    zap_.reset();
}

void MeshSecurity::run() {
    while (running_) {
        std::vector<zmq_pollitem_t> items{{static_cast<void*>(*zap_), 0, ZMQ_POLLIN, 0}};
        for (auto& m : monitors_) items.push_back({static_cast<void*>(*m), 0, ZMQ_POLLIN, 0});
        try {
            zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
            if (items[0].revents & ZMQ_POLLIN) answer_zap();
            for (size_t i = 0; i < monitors_.size(); ++i)
                if (items[i + 1].revents & ZMQ_POLLIN) on_event(*monitors_[i]);
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) LOG_ERROR("cluster: the ZAP handler's poll failed: %s", e.what());
        }
    }
}

// RFC 27: version, request id, domain, address, identity, mechanism, credentials; the
// reply: version, request id, status code, status text, user id, metadata.
void MeshSecurity::answer_zap() {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(*zap_, std::back_inserter(parts), zmq::recv_flags::dontwait)) return;
    ZapRequest r;
    if (parts.size() >= 6) {
        r = {parts[0].to_string(), parts[1].to_string(), parts[2].to_string(), parts[3].to_string(),
             parts[5].to_string(), ""};
        if (r.mechanism == "CURVE" && parts.size() >= 7 && parts[6].size() == 32)
            r.client_key = z85(static_cast<const uint8_t*>(parts[6].data()));
    }
    ZapReply reply = zap_decide(r, trusted_);
    if (!reply.admitted()) {
        metrics_.mesh_peers_refused++;
        if (warned_.insert(r.address + " " + r.mechanism + " " + r.client_key).second)
            LOG_WARN("cluster: refused a peer from %s (%s%s%s): %s", r.address.c_str(), r.mechanism.c_str(),
                     r.client_key.empty() ? "" : ", key ", r.client_key.c_str(), reply.status_text.c_str());
    }
    std::string version = r.version.empty() ? "1.0" : r.version;
    std::vector<zmq::const_buffer> out{zmq::buffer(version),
                                       zmq::buffer(r.request_id), zmq::buffer(reply.status_code),
                                       zmq::buffer(reply.status_text), zmq::buffer(reply.user_id),
                                       zmq::const_buffer()};
    zmq::send_multipart(*zap_, out);
}

// A monitor event: [event (16 bits), value (32 bits)], then the endpoint.
void MeshSecurity::on_event(zmq::socket_t& monitor) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(monitor, std::back_inserter(parts), zmq::recv_flags::dontwait) || parts.size() < 2 ||
        parts[0].size() < 6)
        return;
    uint16_t event;
    uint32_t value;
    memcpy(&event, parts[0].data(), 2);
    memcpy(&value, static_cast<const char*>(parts[0].data()) + 2, 4);
    metrics_.mesh_handshakes_failed++;
    std::string endpoint = parts[1].to_string();
    if (&monitor != sub_monitor_ || !warned_.insert("dial " + endpoint).second) return;
    LOG_WARN("cluster: the CURVE handshake with peer %s failed (%s): it does not trust this node's public key %s, "
             "or its key in --peers is not the one it has",
             endpoint.c_str(), event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "refused" : "protocol error",
             public_.c_str());
}

}  // namespace rt::cluster
