// The node registry in Postgres (realtime.nodes): every second this node records its
// heartbeat and mesh endpoint, learns the endpoints of the others (so a new node finds
// the cluster by itself), and, while it holds the slot, removes the subscriptions of
// nodes whose heartbeat went stale, so the plugin stops tagging changes for them.
//
// A node that was only paused or cut off (not dead) may find its own subscriptions gone
// when it beats again; it then reports which of its rows still exist, so that the
// channels that lost theirs are told to rejoin instead of waiting in silence.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <unordered_set>

#include "relay/core/config.h"
#include "relay/io/db_worker.h"

namespace rt::cluster {

class Mesh;

class Registry {
public:
    using RowsCheck = std::function<void(std::unordered_set<int64_t> present)>;
    Registry(const Config& cfg, DbWorker& db, Mesh* mesh, std::function<bool()> holds_slot, RowsCheck on_rows_checked);
    // Seconds of silence after which the slot holder removes a node's subscriptions:
    // past the mesh's down period, and past --resume-grace so a crashed node that comes
    // back quickly can still resume its clients' subscriptions.
    static double removal_after_s(const Config& cfg);
    ~Registry();
    void start();
    void stop();

private:
    void beat(pg_conn* c);

    const Config& cfg_;
    DbWorker& db_;
    Mesh* mesh_;
    std::function<bool()> holds_slot_;
    RowsCheck on_rows_checked_;
    bool beaten_ = false;
    std::string incarnation_;
    std::thread thread_;
    std::atomic<bool> running_{false};
    std::atomic<bool> in_flight_{false};
};

}  // namespace rt::cluster
