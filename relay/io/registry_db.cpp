// The node registry's SQL.
#include "relay/io/registry_db.h"

#include <cstdlib>

namespace rt {

bool SqlRegistryDb::query(const char* sql, const std::vector<std::string>& params, SqlRows* rows,
                          std::string* error) {
    DbError e;
    if (s_.exec(sql, params, rows, e)) return true;
    if (error) *error = e.message;
    return false;
}

bool SqlRegistryDb::beat_age_s(const std::string& node, const std::string& incarnation, double& age_s) {
    SqlRows rows;
    if (!query("SELECT extract(epoch FROM now() - last_heartbeat) FROM realtime.nodes "
               "WHERE node_id = $1 AND incarnation = $2",
               {node, incarnation}, &rows) ||
        rows.empty())
        return false;
    age_s = std::stod(rows[0][0]);
    return true;
}

bool SqlRegistryDb::record_beat(const std::string& node, const std::string& endpoint, const std::string& public_key,
                                const std::string& region, const std::string& incarnation, std::string& error) {
    return query("INSERT INTO realtime.nodes AS n (node_id, cluster_endpoint, public_key, region, incarnation) "
                 "VALUES ($1, NULLIF($2, ''), NULLIF($5, ''), $3, $4) ON CONFLICT (node_id) DO UPDATE SET "
                 "cluster_endpoint = EXCLUDED.cluster_endpoint, public_key = EXCLUDED.public_key, "
                 "region = EXCLUDED.region, "
                 "started_at = CASE WHEN n.incarnation = EXCLUDED.incarnation THEN n.started_at ELSE now() END, "
                 "incarnation = EXCLUDED.incarnation, last_heartbeat = now()",
                 {node, endpoint, region, incarnation, public_key}, nullptr, &error);
}

bool SqlRegistryDb::own_subscriptions(const std::string& node, std::unordered_set<int64_t>& ids) {
    SqlRows rows;
    if (!query("SELECT id FROM realtime.subscription WHERE node_id = $1", {node}, &rows)) return false;
    for (auto& row : rows) ids.insert(std::stoll(row[0]));
    return true;
}

bool SqlRegistryDb::peers(const std::string& node, std::vector<cluster::ListedPeer>& peers) {
    SqlRows rows;
    if (!query("SELECT node_id, cluster_endpoint, extract(epoch FROM now() - last_heartbeat)::float8, "
               "coalesce(public_key, '') "
               "FROM realtime.nodes WHERE node_id <> $1 AND cluster_endpoint IS NOT NULL "
               "AND last_heartbeat > now() - interval '1 minute'",
               {node}, &rows))
        return false;
    for (auto& row : rows) peers.push_back({row[0], row[1], std::strtod(row[2].c_str(), nullptr), row[3]});
    return true;
}

bool SqlRegistryDb::remove_dead_nodes(const std::string& node, double stale_s,
                                      std::vector<std::pair<std::string, std::string>>& removed,
                                      std::string& error) {
    SqlRows rows;
    if (!query("SELECT n.node_id, realtime.unsubscribe_node(n.node_id) FROM realtime.nodes n "
               "WHERE n.node_id <> $1 AND n.last_heartbeat < now() - make_interval(secs => $2::float8) "
               "AND EXISTS (SELECT 1 FROM realtime.subscription s WHERE s.node_id = n.node_id)",
               {node, std::to_string(stale_s)}, &rows, &error))
        return false;
    for (auto& row : rows) removed.emplace_back(row[0], row[1]);
    return true;
}

bool SqlRegistryDb::unsubscribe_node(const std::string& node, std::string& removed, std::string& error) {
    SqlRows rows;
    if (!query("SELECT realtime.unsubscribe_node($1)", {node}, &rows, &error)) return false;
    removed = rows.empty() ? "0" : rows[0][0];
    return true;
}

cluster::RunOnDb registry_on(DbPool& pool) {
    return [&pool](std::function<void(cluster::RegistryDb*)> job) {
        pool.run(DbPool::kNoClient, [job = std::move(job)](SqlSession& s) {
            if (!s.connected()) {
                job(nullptr);
                return;
            }
            SqlRegistryDb db(s);
            job(&db);
        });
    };
}

}  // namespace rt
