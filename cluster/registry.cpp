// Node registry heartbeats, peer discovery and the cleanup of dead nodes' subscriptions.
#include "cluster/registry.h"

#include <chrono>

#include "cluster/mesh.h"
#include "relay/core/ids.h"
#include "relay/core/log.h"

namespace rt::cluster {
namespace {
constexpr int kPeriodMs = 1000;
}

Registry::Registry(const Config& cfg, DbWorker& db, Mesh* mesh, std::function<bool()> holds_slot,
                   RowsCheck on_rows_checked)
    : cfg_(cfg),
      db_(db),
      mesh_(mesh),
      holds_slot_(std::move(holds_slot)),
      on_rows_checked_(std::move(on_rows_checked)),
      incarnation_(random_uuid()) {}

double Registry::removal_after_s(const Config& cfg) {
    double down = (cfg.peer_down_ms + 2 * kPeriodMs) / 1000.0;
    double resume = cfg.resume_grace_s + 2.0;
    return down > resume ? down : resume;
}

Registry::~Registry() { stop(); }

void Registry::start() {
    running_ = true;
    thread_ = std::thread([this] {
        while (running_) {
            // One beat at a time: a slow database must not pile them up.
            if (!in_flight_.exchange(true)) db_.run([this](pg_conn* c) {
                if (c) beat(c);
                in_flight_ = false;
            });
            for (int slept = 0; running_ && slept < kPeriodMs; slept += 50)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
}

void Registry::stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
}

void Registry::beat(pg_conn* c) {
    std::string endpoint = mesh_ ? mesh_->endpoint() : "";
    std::string error;
    // Our own previous beat: if it is older than the removal delay, the slot holder may
    // have removed our subscriptions meanwhile (we were paused or cut off).
    std::vector<std::vector<std::string>> previous;
    bool maybe_removed = false;
    if (beaten_ && pg_query(c,
                            "SELECT extract(epoch FROM now() - last_heartbeat) FROM realtime.nodes "
                            "WHERE node_id = $1 AND incarnation = $2",
                            {cfg_.node_id, incarnation_}, &previous, &error) &&
        !previous.empty())
        maybe_removed = std::stod(previous[0][0]) > removal_after_s(cfg_);
    if (!pg_query(c,
                  "INSERT INTO realtime.nodes AS n (node_id, cluster_endpoint, region, incarnation) "
                  "VALUES ($1, NULLIF($2, ''), $3, $4) ON CONFLICT (node_id) DO UPDATE SET "
                  "cluster_endpoint = EXCLUDED.cluster_endpoint, region = EXCLUDED.region, "
                  "started_at = CASE WHEN n.incarnation = EXCLUDED.incarnation THEN n.started_at ELSE now() END, "
                  "incarnation = EXCLUDED.incarnation, last_heartbeat = now()",
                  {cfg_.node_id, endpoint, cfg_.region, incarnation_}, nullptr, &error)) {
        LOG_WARN("node registry update failed: %s", error.c_str());
        return;
    }
    beaten_ = true;
    if (maybe_removed && on_rows_checked_) {
        std::vector<std::vector<std::string>> rows;
        if (pg_query(c, "SELECT id FROM realtime.subscription WHERE node_id = $1", {cfg_.node_id}, &rows, &error)) {
            LOG_WARN("this node was silent longer than %.0f s: checking which of its subscriptions survived",
                     removal_after_s(cfg_));
            std::unordered_set<int64_t> present;
            for (auto& row : rows) present.insert(std::stoll(row[0]));
            on_rows_checked_(std::move(present));
        }
    }
    if (mesh_) {
        std::vector<std::vector<std::string>> rows;
        if (pg_query(c,
                     "SELECT cluster_endpoint FROM realtime.nodes WHERE node_id <> $1 AND cluster_endpoint IS NOT NULL "
                     "AND last_heartbeat > now() - interval '1 minute'",
                     {cfg_.node_id}, &rows, &error)) {
            std::vector<std::string> endpoints;
            for (auto& row : rows) endpoints.push_back(row[0]);
            mesh_->add_endpoints(endpoints);
        }
    }
    if (holds_slot_ && holds_slot_()) {
        // A node is dead for the registry after removal_after_s() of silence.
        std::string stale_s = std::to_string(removal_after_s(cfg_));
        std::vector<std::vector<std::string>> rows;
        if (!pg_query(c,
                      "SELECT n.node_id, realtime.unsubscribe_node(n.node_id) FROM realtime.nodes n "
                      "WHERE n.node_id <> $1 AND n.last_heartbeat < now() - make_interval(secs => $2::float8) "
                      "AND EXISTS (SELECT 1 FROM realtime.subscription s WHERE s.node_id = n.node_id)",
                      {cfg_.node_id, stale_s}, &rows, &error)) {
            LOG_WARN("removing dead nodes' subscriptions failed: %s", error.c_str());
            return;
        }
        for (auto& row : rows)
            LOG_INFO("node %s is gone: removed its %s subscriptions", row[0].c_str(), row[1].c_str());
    }
}

}  // namespace rt::cluster
