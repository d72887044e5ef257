// The node registry in Postgres (realtime.nodes): every second this node records its
// heartbeat and mesh endpoint, learns the endpoints of the others (so a new node finds
// the cluster by itself), and, while it holds the slot, removes the subscriptions of
// nodes whose heartbeat went stale, so the plugin stops tagging changes for them.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "relay/config.h"
#include "relay/db_worker.h"

namespace rt::cluster {

class Mesh;

class Registry {
public:
    Registry(const Config& cfg, DbWorker& db, Mesh* mesh, std::function<bool()> holds_slot);
    ~Registry();
    void start();
    void stop();

private:
    void beat(pg_conn* c);

    const Config& cfg_;
    DbWorker& db_;
    Mesh* mesh_;
    std::function<bool()> holds_slot_;
    std::string incarnation_;
    std::thread thread_;
    std::atomic<bool> running_{false};
    std::atomic<bool> in_flight_{false};
};

}  // namespace rt::cluster
