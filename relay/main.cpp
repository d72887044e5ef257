// realtime-relay: the composition of the relay. Each component is built here and given
// the ports it talks through; nothing else happens in this file.
//
//   Server (io/server: the loop thread, with the Hub) <- inbound port <- SubscriptionDb
//   and AuthorizationDb (on the clients' DbPool), SlotHolder (slot/), Mesh (cluster/),
//   Registry (cluster/, on a DbPool of its own), JwksFile (io/); the Hub reaches them
//   back through DbPort (SubscriptionDb), AccessPort (AuthorizationDb) and ClusterPort
//   (MeshPort, io/mesh_port). MessageRetention runs realtime.maintain_messages on the
//   clients' pool. The Inspector (inspector/) serves its endpoints through HttpApi and
//   hears peers' answers through the Hub.
#include <cstdio>
#include <memory>
#include <vector>

#include <cstring>

#include "cluster/mesh.h"
#include "cluster/mesh_keygen.h"
#include "cluster/registry.h"
#include "relay/core/config.h"
#include "relay/core/log.h"
#include "relay/core/metrics.h"
#include "relay/io/authorization_db.h"
#include "relay/io/db_pool.h"
#include "relay/io/http_api.h"
#include "relay/io/jwks_file.h"
#include "relay/io/mesh_port.h"
#include "relay/io/message_retention.h"
#include "relay/io/process.h"
#include "relay/io/registry_db.h"
#include "relay/io/server.h"
#include "relay/io/subscription_db.h"
#include "relay/inspector/inspector.h"
#include "relay/slot/holder.h"
#include "relay/slot/mesh_peers.h"

namespace {

// Everything besides the loop, in the order it is built and started.
struct Components {
    std::unique_ptr<rt::JwksFile> jwks;
    std::shared_ptr<const rt::Jwks> keys;  // its keys as read at startup, for the hub
    std::unique_ptr<rt::DbPool> pool;           // clients' database work
    std::unique_ptr<rt::DbPool> registry_pool;  // the node's heartbeat, apart from clients
    std::unique_ptr<rt::SubscriptionDb> db;
    std::unique_ptr<rt::AuthorizationDb> access;
    std::unique_ptr<rt::MessageRetention> retention;
    std::vector<rt::OrphanRow> orphans;  // this node's rows left by a crash, for the hub
    std::unique_ptr<rt::cluster::Mesh> mesh;
    std::unique_ptr<rt::MeshPort> cluster;  // the loop's sender
    std::unique_ptr<rt::MeshSlotPeers> slot_peers;  // the slot stream's sender
    std::unique_ptr<rt::SlotHolder> slot;
    std::unique_ptr<rt::cluster::Registry> registry;
};

bool fail(const std::string& error) {
    fprintf(stderr, "realtime-relay: %s\n", error.c_str());
    return false;
}

// The --jwt-jwks file, read before anything starts: a file that cannot be used stops the
// relay here (later versions that cannot be used keep the keys in use).
bool open_jwks(const rt::Config& cfg, Components& c) {
    if (!cfg.jwt_secret.empty() && cfg.jwt_secret.size() < 32)
        LOG_WARN("--jwt-secret is shorter than 32 bytes: an HS256 key should be at least 32 random bytes");
    if (cfg.jwt_jwks.empty()) return true;
    c.jwks = std::make_unique<rt::JwksFile>(cfg.jwt_jwks);
    std::string error;
    c.keys = c.jwks->load(error);
    return c.keys ? true : fail(error);
}

bool open_database(const rt::Config& cfg, rt::Metrics& metrics, rt::LoopInbound& loop, Components& c) {
    if (cfg.db.empty()) {
        LOG_WARN("no --db: Postgres Changes are disabled (broadcast and presence only)");
        return true;
    }
    std::string error;
    if (!rt::SubscriptionDb::check(cfg.db, cfg.node_id, cfg.db_statement_timeout_ms, c.orphans, error))
        return fail(error);
    std::string name = "realtime-relay " + cfg.node_id;
    c.pool = std::make_unique<rt::DbPool>(
        rt::DbPool::Options{cfg.db, name, cfg.db_pool_size, cfg.db_statement_timeout_ms});
    c.registry_pool = std::make_unique<rt::DbPool>(
        rt::DbPool::Options{cfg.db, name + " registry", 1, cfg.db_statement_timeout_ms});
    c.db = std::make_unique<rt::SubscriptionDb>(*c.pool, cfg.node_id, loop);
    c.access = std::make_unique<rt::AuthorizationDb>(*c.pool, loop);
    c.retention = std::make_unique<rt::MessageRetention>(*c.pool, metrics, cfg.message_retention_hours);
    return true;
}

// The mesh: the loop and the slot stream each get their own sender.
bool open_mesh(const rt::Config& cfg, rt::Metrics& metrics, rt::LoopInbound& loop, Components& c) {
    if (cfg.cluster_bind.empty()) return true;
    c.mesh = std::make_unique<rt::cluster::Mesh>(cfg, metrics, loop);
    std::string error;
    if (!c.mesh->start(error)) return fail(error);
    c.cluster = std::make_unique<rt::MeshPort>(c.mesh->make_sender());
    c.slot_peers = std::make_unique<rt::MeshSlotPeers>(c.mesh->make_sender());
    return true;
}

// The slot stream's questions to the mesh, and its word to the registry when the hand-over
// gives up on a node.
rt::SlotElection election(Components& c) {
    rt::cluster::Mesh* mesh = c.mesh.get();
    if (!mesh) return {};
    return {[mesh] { return mesh->may_take_slot(); }, [mesh] { return mesh->should_release_slot(); },
            [mesh](bool competes, bool holding) { mesh->set_slot_state(competes, holding); },
            [&c](const std::string& node) {
                if (c.registry) c.registry->remove_node(node);
            },
            [mesh] { return mesh->hung_holders(); }};
}

// The peer list of /api/health (the mesh's view; none without a cluster).
std::function<std::string()> peers_json(rt::cluster::Mesh* mesh) {
    if (!mesh) return {};
    return [mesh] { return mesh->peers_json(); };
}

// The inspector's view of the cluster (the mesh's; none without a cluster).
rt::inspector::Inspector::ClusterView node_views(rt::cluster::Mesh* mesh) {
    if (!mesh) return {};
    return [mesh] { return mesh->node_views(); };
}

void build_slot_and_registry(const rt::Config& cfg, rt::Metrics& metrics, rt::LoopInbound& loop, Components& c) {
    if (!c.db) return;
    if (!cfg.no_replication) {
        c.slot = std::make_unique<rt::SlotHolder>(cfg, metrics, loop, c.slot_peers.get(), *c.pool, election(c));
        if (c.mesh) c.mesh->set_holder_link(&c.slot->link());
    }
    rt::SlotHolder* slot = c.slot.get();
    c.registry = std::make_unique<rt::cluster::Registry>(
        cfg, rt::registry_on(*c.registry_pool), c.mesh.get(), [slot] { return slot && slot->holding(); }, &loop);
}

// At SIGTERM, on the loop thread, before connections close: stop taking work. This node's
// subscription rows and registry row stay, as after a crash: its clients resume them
// within --resume-grace when this node is back (or the slot holder removes them later).
void release(Components& c) {
    if (c.registry) c.registry->stop();
    if (c.slot) c.slot->stop();
}

void stop(Components& c) {
    if (c.jwks) c.jwks->stop();
    if (c.retention) c.retention->stop();
    if (c.registry) c.registry->stop();
    if (c.slot) c.slot->stop();
    if (c.registry_pool) c.registry_pool->stop();
    if (c.pool) c.pool->stop();
    if (c.mesh) c.mesh->stop();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "keygen") == 0) return rt::cluster::keygen_main(argc - 1, argv + 1);
    rt::Config cfg = rt::parse_config(argc, argv);
    rt::log::set_level(cfg.log_level);
    rt::Process process(cfg);
    rt::Metrics metrics;
    rt::Server server(cfg, metrics);
    Components c;
    if (!open_jwks(cfg, c)) return 1;
    if (!open_database(cfg, metrics, server.inbound(), c)) return 1;
    if (!open_mesh(cfg, metrics, server.inbound(), c)) return 1;
    if (!cfg.peers.empty() && !c.mesh) {
        fail("--peers needs --cluster-bind (see --help)");
        return 2;
    }

    server.attach(c.db.get(), c.cluster.get(), c.access.get());
    if (!server.start()) return 1;
    if (c.keys) server.hub().set_jwks(std::move(c.keys));  // before the loop takes its first client
    rt::HttpApi http(cfg, metrics, server.hub(), peers_json(c.mesh.get()));
    rt::inspector::Inspector inspector(cfg, metrics, server.hub(), node_views(c.mesh.get()));
    inspector.mount(http);
    server.hub().set_inspector(&inspector);
    server.every_second = [&inspector] { inspector.tick(); };
    server.set_http(&http);
    if (!c.orphans.empty()) server.hub().adopt_orphans(std::move(c.orphans));
    build_slot_and_registry(cfg, metrics, server.inbound(), c);
    server.on_shutdown = [&c] { release(c); };

    if (c.pool) c.pool->start();
    if (c.retention) c.retention->start();
    if (c.registry_pool) c.registry_pool->start();
    if (c.jwks) c.jwks->start(server.inbound());
    if (c.registry) c.registry->start();
    if (c.slot) c.slot->start();
    process.on_shutdown_signal([&server] { server.stop(); });

    LOG_INFO("realtime-relay node %s listening on ws://%s:%d/socket/websocket; open-file limit %llu, so it can hold "
             "%d connections",
             cfg.node_id.c_str(), cfg.listen_host.c_str(), cfg.listen_port,
             static_cast<unsigned long long>(process.fd_limit()), cfg.limits.max_connections);
    server.run();
    stop(c);
    LOG_INFO("stopped");
    return 0;
}
