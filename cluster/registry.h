// The node registry in Postgres (realtime.nodes): every second this node records its
// heartbeat and mesh endpoint, learns the endpoints of the others (so a new node finds
// the cluster by itself), and, while it holds the slot, removes the subscriptions of
// nodes whose heartbeat went stale, so the plugin stops tagging changes for them.
//
// A node that was only paused or cut off (not dead) may find its own subscriptions gone
// when it beats again, or when it hears a slot holder again after none for that long (the
// holder's hand-over may have given up on it); it then reports which of its rows still
// exist (to the loop), so that the channels that lost theirs are told to rejoin instead of
// waiting in silence.
//
// The decisions are here; the statements are behind RegistryDb, which the relay
// implements on a database session of its own (relay/io/registry_db).
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cluster/membership.h"
#include "relay/core/config.h"
#include "relay/hub/inbound.h"

namespace rt::cluster {

class Mesh;

// The registry's statements, on one database session.
class RegistryDb {
public:
    virtual ~RegistryDb() = default;
    // Seconds since this incarnation's last recorded beat; false when there is none.
    virtual bool beat_age_s(const std::string& node, const std::string& incarnation, double& age_s) = 0;
    // public_key: the CURVE public key of its mesh (Z85), empty when it has none.
    virtual bool record_beat(const std::string& node, const std::string& endpoint, const std::string& public_key,
                             const std::string& region,
                             const std::string& incarnation, std::string& error) = 0;
    virtual bool own_subscriptions(const std::string& node, std::unordered_set<int64_t>& ids) = 0;
    // The other nodes heard from in the last minute, with their endpoints, keys and beat ages.
    virtual bool peers(const std::string& node, std::vector<ListedPeer>& peers) = 0;
    // Removes the subscriptions of other nodes silent for stale_s: (node, rows removed).
    virtual bool remove_dead_nodes(const std::string& node, double stale_s,
                                   std::vector<std::pair<std::string, std::string>>& removed, std::string& error) = 0;
    // Removes the subscriptions of node (rows removed).
    virtual bool unsubscribe_node(const std::string& node, std::string& removed, std::string& error) = 0;
};

// Runs a job on the database's thread with a session, or with nullptr when the database
// cannot be reached.
using RunOnDb = std::function<void(std::function<void(RegistryDb*)>)>;

class Registry {
public:
    Registry(const Config& cfg, RunOnDb run_on_db, Mesh* mesh, std::function<bool()> holds_slot, LoopInbound* loop);
    ~Registry();
    // Seconds of silence after which the slot holder removes a node's subscriptions:
    // past the mesh's down period, and past --resume-grace so a crashed node that comes
    // back quickly can still resume its clients' subscriptions.
    static double removal_after_s(const Config& cfg);
    void start();
    void stop();

    // The slot holder's hand-over gave up on node: its subscriptions go at the next beat
    // (any thread).
    void remove_node(const std::string& node);

    // One beat (the registry's database thread; public for the unit tests).
    void beat(RegistryDb& db);

private:
    bool maybe_removed(RegistryDb& db);
    void report_surviving_rows(RegistryDb& db);
    void remove_dead_nodes(RegistryDb& db);
    void remove_gone_nodes(RegistryDb& db);

    const Config& cfg_;
    RunOnDb run_on_db_;
    Mesh* mesh_;
    std::function<bool()> holds_slot_;
    LoopInbound* loop_;
    bool beaten_ = false;
    std::string incarnation_;
    std::thread thread_;
    std::atomic<bool> running_{false};
    std::atomic<bool> in_flight_{false};
    std::mutex mu_;
    std::vector<std::string> gone_;  // nodes whose rows are to be removed
};

}  // namespace rt::cluster
