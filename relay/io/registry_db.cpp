// The node registry's SQL.
#include "relay/io/registry_db.h"

namespace rt {

using Rows = std::vector<std::vector<std::string>>;

bool PgRegistryDb::beat_age_s(const std::string& node, const std::string& incarnation, double& age_s) {
    Rows rows;
    std::string error;
    if (!pg_query(conn_,
                  "SELECT extract(epoch FROM now() - last_heartbeat) FROM realtime.nodes "
                  "WHERE node_id = $1 AND incarnation = $2",
                  {node, incarnation}, &rows, &error) ||
        rows.empty())
        return false;
    age_s = std::stod(rows[0][0]);
    return true;
}

bool PgRegistryDb::record_beat(const std::string& node, const std::string& endpoint, const std::string& region,
                               const std::string& incarnation, std::string& error) {
    return pg_query(conn_,
                    "INSERT INTO realtime.nodes AS n (node_id, cluster_endpoint, region, incarnation) "
                    "VALUES ($1, NULLIF($2, ''), $3, $4) ON CONFLICT (node_id) DO UPDATE SET "
                    "cluster_endpoint = EXCLUDED.cluster_endpoint, region = EXCLUDED.region, "
                    "started_at = CASE WHEN n.incarnation = EXCLUDED.incarnation THEN n.started_at ELSE now() END, "
                    "incarnation = EXCLUDED.incarnation, last_heartbeat = now()",
                    {node, endpoint, region, incarnation}, nullptr, &error);
}

bool PgRegistryDb::own_subscriptions(const std::string& node, std::unordered_set<int64_t>& ids) {
    Rows rows;
    std::string error;
    if (!pg_query(conn_, "SELECT id FROM realtime.subscription WHERE node_id = $1", {node}, &rows, &error))
        return false;
    for (auto& row : rows) ids.insert(std::stoll(row[0]));
    return true;
}

bool PgRegistryDb::peer_endpoints(const std::string& node, std::vector<std::string>& endpoints) {
    Rows rows;
    std::string error;
    if (!pg_query(conn_,
                  "SELECT cluster_endpoint FROM realtime.nodes WHERE node_id <> $1 AND cluster_endpoint IS NOT NULL "
                  "AND last_heartbeat > now() - interval '1 minute'",
                  {node}, &rows, &error))
        return false;
    for (auto& row : rows) endpoints.push_back(row[0]);
    return true;
}

bool PgRegistryDb::remove_dead_nodes(const std::string& node, double stale_s,
                                     std::vector<std::pair<std::string, std::string>>& removed, std::string& error) {
    Rows rows;
    if (!pg_query(conn_,
                  "SELECT n.node_id, realtime.unsubscribe_node(n.node_id) FROM realtime.nodes n "
                  "WHERE n.node_id <> $1 AND n.last_heartbeat < now() - make_interval(secs => $2::float8) "
                  "AND EXISTS (SELECT 1 FROM realtime.subscription s WHERE s.node_id = n.node_id)",
                  {node, std::to_string(stale_s)}, &rows, &error))
        return false;
    for (auto& row : rows) removed.emplace_back(row[0], row[1]);
    return true;
}

cluster::RunOnDb registry_on(DbWorker& db) {
    return [&db](std::function<void(cluster::RegistryDb*)> job) {
        db.run([job = std::move(job)](pg_conn* c) {
            if (!c) {
                job(nullptr);
                return;
            }
            PgRegistryDb session(c);
            job(&session);
        });
    };
}

}  // namespace rt
