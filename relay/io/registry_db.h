// The node registry's statements (cluster/registry.h) with libpq, on the database
// thread's connection: realtime.nodes, and this node's rows of realtime.subscription.
#pragma once

#include "cluster/registry.h"
#include "relay/io/db_worker.h"

namespace rt {

class PgRegistryDb : public cluster::RegistryDb {
public:
    explicit PgRegistryDb(pg_conn* conn) : conn_(conn) {}

    bool beat_age_s(const std::string& node, const std::string& incarnation, double& age_s) override;
    bool record_beat(const std::string& node, const std::string& endpoint, const std::string& region,
                     const std::string& incarnation, std::string& error) override;
    bool own_subscriptions(const std::string& node, std::unordered_set<int64_t>& ids) override;
    bool peer_endpoints(const std::string& node, std::vector<std::string>& endpoints) override;
    bool remove_dead_nodes(const std::string& node, double stale_s,
                           std::vector<std::pair<std::string, std::string>>& removed, std::string& error) override;

private:
    pg_conn* conn_;
};

// Registry jobs on db's thread, each with a PgRegistryDb on its connection.
cluster::RunOnDb registry_on(DbWorker& db);

}  // namespace rt
