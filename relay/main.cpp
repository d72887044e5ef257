// realtime-relay: configuration, process setup (limits, signals), and the wiring of the
// loop, database, replication and cluster threads.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "relay/config.h"
#include "relay/db_worker.h"
#include "relay/http_api.h"
#include "relay/log.h"
#include "relay/metrics.h"
#include "relay/replication.h"
#include "relay/server.h"

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

    server.attach(db.get(), nullptr);
    if (!server.start()) return 1;
    rt::HttpApi http(cfg, metrics, server.hub(), nullptr, nullptr);
    server.set_http(&http);
    if (!orphans.empty()) server.hub().adopt_orphans(std::move(orphans));

    std::unique_ptr<rt::Replication> replication;
    if (db && !cfg.no_replication) {
        rt::Replication::Routes routes;
        rt::Replication* repl = nullptr;
        routes.local = [&server, &repl](rt::ChangeEvent&& ev) {
            server.mailbox().post([&repl, ev = std::move(ev)](rt::Hub& hub) {
                hub.deliver_change(ev);
                repl->local_done(ev.pos.commit_lsn, hub.held_floor());
            });
        };
        routes.broadcast = [&server, &repl](rt::BroadcastMsg&& msg) {
            server.mailbox().post([&repl, msg = std::move(msg)](rt::Hub& hub) {
                hub.deliver_broadcast(msg);
                repl->local_done(msg.pos.commit_lsn, hub.held_floor());
            });
        };
        replication = std::make_unique<rt::Replication>(cfg, metrics, std::move(routes));
        repl = replication.get();
    }

    server.on_shutdown = [&] {
        // Stop taking work first, then give back what this node holds in Postgres.
        if (replication) replication->stop();
        if (db && !db->unsubscribe_node_and_wait(5000))
            LOG_WARN("could not remove this node's subscriptions; a restart with the same --node-id resumes or removes them");
    };

    if (db) db->start();
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
    if (replication) replication->stop();
    if (db) db->stop();
    LOG_INFO("stopped");
    return 0;
}
