// realtime-relay: configuration, process setup (limits, signals), and the wiring of the
// loop, database, replication and cluster threads.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "cluster/mesh.h"
#include "cluster/registry.h"
#include "relay/core/config.h"
#include "relay/io/db_worker.h"
#include "relay/io/http_api.h"
#include "relay/core/log.h"
#include "relay/core/metrics.h"
#include "relay/slot/replication.h"
#include "relay/io/server.h"

namespace {

// Raises the open-file soft limit to the hard limit: every connection is a descriptor.
rlim_t raise_fd_limit() {
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

// Signals are taken by one thread with sigwait, so no handler runs inside the loop.
sigset_t shutdown_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

void size_connection_limit(rt::Config& cfg, rlim_t fds) {
    const int reserved_fds = 64;  // database, cluster, listening socket, logs
    int capacity = fds > reserved_fds ? static_cast<int>(fds) - reserved_fds : 1;
    if (cfg.limits.max_connections > capacity)
        LOG_WARN("--max-connections %d exceeds what the open-file limit allows; using %d", cfg.limits.max_connections,
                 capacity);
    if (cfg.limits.max_connections == 0 || cfg.limits.max_connections > capacity)
        cfg.limits.max_connections = capacity;
}

}  // namespace

int main(int argc, char** argv) {
    rt::Config cfg = rt::parse_config(argc, argv);
    rt::log::set_level(cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    sigset_t signals = shutdown_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by every thread below
    rlim_t fds = raise_fd_limit();
    size_connection_limit(cfg, fds);

    rt::Metrics metrics;
    rt::Server server(cfg, metrics);

    std::unique_ptr<rt::DbWorker> db;
    std::vector<rt::OrphanRow> orphans;
    if (!cfg.db.empty()) {
        db = std::make_unique<rt::DbWorker>(cfg.db, cfg.node_id, server.mailbox());
        std::string error;
        if (!db->check(error) || !db->fetch_orphans(orphans, error)) {
            fprintf(stderr, "realtime-relay: %s\n", error.c_str());
            return 1;
        }
    } else {
        LOG_WARN("no --db: Postgres Changes are disabled (broadcast and presence only)");
    }

    // The cluster mesh: the loop and the replication thread each get their own sender.
    std::unique_ptr<rt::cluster::Mesh> mesh;
    std::unique_ptr<rt::cluster::MeshClient> mesh_client;
    std::unique_ptr<rt::cluster::MeshSender> replication_sender;
    if (!cfg.cluster_bind.empty()) {
        mesh = std::make_unique<rt::cluster::Mesh>(cfg, metrics, server.mailbox());
        std::string error;
        if (!mesh->start(error)) {
            fprintf(stderr, "realtime-relay: %s\n", error.c_str());
            return 1;
        }
        mesh_client = std::make_unique<rt::cluster::MeshClient>(mesh->make_sender());
        mesh->set_client(mesh_client.get());
        replication_sender = mesh->make_sender();
    } else if (!cfg.peers.empty()) {
        fprintf(stderr, "realtime-relay: --peers needs --cluster-bind (see --help)\n");
        return 2;
    }

    server.attach(db.get(), mesh_client.get());
    if (!server.start()) return 1;
    std::function<std::string()> peers_json;
    if (mesh) peers_json = [&mesh] { return mesh->peers_json(); };
    rt::HttpApi http(cfg, metrics, server.hub(), peers_json);
    server.set_http(&http);
    if (!orphans.empty()) server.hub().adopt_orphans(std::move(orphans));

    std::unique_ptr<rt::Replication> replication;
    if (db && !cfg.no_replication) {
        rt::Replication::Routes routes;
        // The loop reports back to the replication thread what it delivered.
        routes.local = [&server, &replication](rt::ChangeEvent&& ev) {
            server.mailbox().post([&replication, ev = std::move(ev)](rt::Hub& hub) {
                hub.deliver_change(ev);
                replication->local_done(ev.pos.commit_lsn, hub.held_floor());
            });
        };
        // Peers get changes and SQL broadcasts through one sender, so in commit order.
        routes.remote = [&replication_sender](const std::string& node, const rt::ChangeEvent& ev) {
            return replication_sender &&
                   replication_sender->publish(rt::cluster::routing_node(node), rt::cluster::MsgType::Change,
                                               rt::cluster::encode(ev));
        };
        routes.broadcast = [&server, &replication, &replication_sender](rt::BroadcastMsg&& msg) {
            if (replication_sender)
                replication_sender->publish(rt::cluster::routing_broadcast(msg.topic), rt::cluster::MsgType::Broadcast,
                                            rt::cluster::encode(msg));
            server.mailbox().post([&replication, msg = std::move(msg)](rt::Hub& hub) {
                hub.deliver_broadcast(msg);
                replication->local_done(msg.pos.commit_lsn, hub.held_floor());
            });
        };
        if (mesh) {
            routes.may_take_slot = [&mesh] { return mesh->may_take_slot(); };
            routes.should_release = [&mesh] { return mesh->should_release_slot(); };
            routes.slot_state = [&mesh](bool competes, bool holding) { mesh->set_slot_state(competes, holding); };
        }
        replication = std::make_unique<rt::Replication>(cfg, metrics, std::move(routes));
    }

    std::unique_ptr<rt::cluster::Registry> registry;
    if (db)
        registry = std::make_unique<rt::cluster::Registry>(
            cfg, *db, mesh.get(), [&replication] { return replication && replication->holding(); },
            [&server](std::unordered_set<int64_t> present) {
                server.mailbox().post(
                    [present = std::move(present)](rt::Hub& hub) { hub.drop_lost_subscriptions(present); });
            });

    server.on_shutdown = [&] {
        // Stop taking work first, then give back what this node holds in Postgres.
        if (registry) registry->stop();
        if (replication) replication->stop();
        if (db && !db->unsubscribe_node_and_wait(5000))
            LOG_WARN("could not remove this node's subscriptions; a restart with the same --node-id resumes or removes them");
    };

    if (db) db->start();
    if (registry) registry->start();
    if (replication) replication->start();

    std::thread signal_thread([&server, signals] {
        int sig = 0;
        sigwait(&signals, &sig);
        LOG_INFO("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        server.stop();
    });
    signal_thread.detach();

    LOG_INFO("realtime-relay node %s listening on ws://%s:%d/socket/websocket; open-file limit %llu, so it can hold "
             "%d connections",
             cfg.node_id.c_str(), cfg.listen_host.c_str(), cfg.listen_port, static_cast<unsigned long long>(fds),
             cfg.limits.max_connections);
    server.run();
    if (registry) registry->stop();
    if (replication) replication->stop();
    if (db) db->stop();
    if (mesh) mesh->stop();
    LOG_INFO("stopped");
    return 0;
}
