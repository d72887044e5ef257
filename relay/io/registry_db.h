// The node registry's statements (cluster/registry.h) on a SqlSession: realtime.nodes,
// and this node's rows of realtime.subscription. They run on a database pool of their
// own (one connection), so nothing clients do can delay this node's heartbeat.
#pragma once

#include "cluster/registry.h"
#include "relay/io/db_pool.h"

namespace rt {

class SqlRegistryDb : public cluster::RegistryDb {
public:
    explicit SqlRegistryDb(SqlSession& session) : s_(session) {}

    bool beat_age_s(const std::string& node, const std::string& incarnation, double& age_s) override;
    bool record_beat(const std::string& node, const std::string& endpoint, const std::string& public_key,
                     const std::string& region,
                     const std::string& incarnation, std::string& error) override;
    bool own_subscriptions(const std::string& node, std::unordered_set<int64_t>& ids) override;
    bool peers(const std::string& node, std::vector<cluster::ListedPeer>& peers) override;
    bool remove_dead_nodes(const std::string& node, double stale_s,
                           std::vector<std::pair<std::string, std::string>>& removed, std::string& error) override;
    bool unsubscribe_node(const std::string& node, std::string& removed, std::string& error) override;

private:
    bool query(const char* sql, const std::vector<std::string>& params, SqlRows* rows, std::string* error = nullptr);

    SqlSession& s_;
};

// Registry jobs on the pool, each with a SqlRegistryDb on its session (nullptr when the
// database cannot be reached).
cluster::RunOnDb registry_on(DbPool& pool);

}  // namespace rt
