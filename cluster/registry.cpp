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

Registry::Registry(const Config& cfg, RunOnDb run_on_db, Mesh* mesh, std::function<bool()> holds_slot,
                   LoopInbound* loop)
    : cfg_(cfg),
      run_on_db_(std::move(run_on_db)),
      mesh_(mesh),
      holds_slot_(std::move(holds_slot)),
      loop_(loop),
      incarnation_(random_uuid()) {}

double Registry::removal_after_s(const Config& cfg) { return cfg.gone_after_ms() / 1000.0; }

Registry::~Registry() { stop(); }

void Registry::start() {
    running_ = true;
    thread_ = std::thread([this] {
        while (running_) {
            // One beat at a time: a slow database must not pile them up.
            if (!in_flight_.exchange(true)) run_on_db_([this](RegistryDb* db) {
                if (db) beat(*db);
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

void Registry::remove_node(const std::string& node) {
    std::lock_guard<std::mutex> lock(mu_);
    gone_.push_back(node);
}

// Our own previous beat older than the removal delay, or no slot holder heard for that
// long: the slot holder may have removed our subscriptions meanwhile (we were paused or
// cut off).
bool Registry::maybe_removed(RegistryDb& db) {
    double age_s = 0;
    bool silent = beaten_ && db.beat_age_s(cfg_.node_id, incarnation_, age_s) && age_s > removal_after_s(cfg_);
    bool cut_off = mesh_ && mesh_->holder_returned_after(cfg_.gone_after_ms());
    return silent || cut_off;
}

void Registry::beat(RegistryDb& db) {
    std::string endpoint = mesh_ ? mesh_->endpoint() : "", key = mesh_ ? mesh_->public_key() : "";
    bool maybe_removed = this->maybe_removed(db);
    std::string error;
    if (!db.record_beat(cfg_.node_id, endpoint, key, cfg_.region, incarnation_, error)) {
        LOG_WARN("node registry update failed: %s", error.c_str());
        return;
    }
    beaten_ = true;
    if (maybe_removed && loop_) report_surviving_rows(db);
    if (mesh_) {
        std::vector<ListedPeer> peers;
        if (db.peers(cfg_.node_id, peers)) mesh_->registry_view(peers);
    }
    if (holds_slot_ && holds_slot_()) {
        remove_gone_nodes(db);
        remove_dead_nodes(db);
    }
}

void Registry::remove_gone_nodes(RegistryDb& db) {
    std::vector<std::string> gone;
    {
        std::lock_guard<std::mutex> lock(mu_);
        gone.swap(gone_);
    }
    for (const std::string& node : gone) {
        std::string removed, error;
        if (db.unsubscribe_node(node, removed, error))
            LOG_INFO("node %s is gone (it did not confirm its changes): removed its %s subscriptions", node.c_str(),
                     removed.c_str());
        else
            LOG_WARN("removing the subscriptions of node %s failed: %s", node.c_str(), error.c_str());
    }
}

void Registry::report_surviving_rows(RegistryDb& db) {
    std::unordered_set<int64_t> present;
    if (!db.own_subscriptions(cfg_.node_id, present)) return;
    LOG_WARN("this node was silent longer than %.0f s: checking which of its subscriptions survived",
             removal_after_s(cfg_));
    loop_->subscriptions_present(std::move(present));
}

// A node is dead for the registry after removal_after_s() of silence.
void Registry::remove_dead_nodes(RegistryDb& db) {
    std::vector<std::pair<std::string, std::string>> removed;
    std::string error;
    if (!db.remove_dead_nodes(cfg_.node_id, removal_after_s(cfg_), removed, error)) {
        LOG_WARN("removing dead nodes' subscriptions failed: %s", error.c_str());
        return;
    }
    for (auto& [node, count] : removed)
        LOG_INFO("node %s is gone: removed its %s subscriptions", node.c_str(), count.c_str());
}

}  // namespace rt::cluster
