// Command-line and environment parsing for the relay, with CLI11.
#include "relay/core/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace rt {
namespace {

std::string env_name(const std::string& flag) {
    std::string name = "REALTIME_";
    for (char c : flag.substr(2)) name += c == '-' ? '_' : static_cast<char>(toupper(c));
    return name;
}

template <typename T>
CLI::Option* option(CLI::App& app, const std::string& flag, T& target, const std::string& help) {
    return app.add_option(flag, target, help)->envname(env_name(flag))->capture_default_str();
}

bool split_host_port(const std::string& text, std::string& host, int& port) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    char* end = nullptr;
    long p = strtol(text.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535) return false;
    port = static_cast<int>(p);
    return true;
}

std::string default_node_id(int port) {
    char host[256] = "relay";
    gethostname(host, sizeof host - 1);
    return std::string(host) + "-" + std::to_string(port);
}

// The flags as typed (before checks): those parsed into other types after reading.
struct Raw {
    std::string listen = "127.0.0.1:4000";
    std::string peers;
    std::string log_level = "info";
    std::string policy_headers = "x-client-info,x-forwarded-for,x-real-ip";
};

void add_options(CLI::App& app, Config& cfg, Raw& raw) {
    Limits& lim = cfg.limits;
    option(app, "--node-id", cfg.node_id, "Unique id of this relay in the cluster (default: HOSTNAME-PORT)");
    option(app, "--listen", raw.listen, "HOST:PORT for WebSocket and HTTP");
    option(app, "--db", cfg.db, "libpq connection string of the Postgres database (required for Postgres Changes)");
    option(app, "--db-pool-size", cfg.db_pool_size, "Database connections for clients' joins and checks (one client uses one at a time)");
    option(app, "--db-statement-timeout-ms", cfg.db_statement_timeout_ms, "Longest a database statement of the relay may run, in milliseconds");
    option(app, "--rls-check-timeout-ms", cfg.rls_check_timeout_ms, "Longest a row level security check of a change may run (the slot holder's realtime.check_rows); its candidates then get nothing and are told");
    option(app, "--slot", cfg.slot, "Logical replication slot to stream (created if missing)");
    app.add_flag("--no-replication", cfg.no_replication, "Never take the replication slot")
        ->envname(env_name("--no-replication"));
    option(app, "--jwt-secret", cfg.jwt_secret, "Secret that signs HS256/384/512 client JWTs");
    option(app, "--jwt-jwks", cfg.jwt_jwks,
           "JWKS file of the keys that sign client JWTs (RS256, ES256, EdDSA, ...), reloaded when it changes");
    option(app, "--admin-token", cfg.admin_token,
           "Credential of the inspector (GET /inspector) and its /api/inspector endpoints, at least 16 bytes");
    option(app, "--admin-role", cfg.admin_role,
           "A JWT whose role is this one (e.g. service_role) is an admin credential too");
    option(app, "--cluster-bind", cfg.cluster_bind, "tcp://HOST:PORT this node publishes the cluster mesh on");
    option(app, "--peers", raw.peers, "Comma-separated tcp://HOST:PORT of other nodes, each with @PUBLIC_KEY when the mesh has keys");
    option(app, "--cluster-key", cfg.cluster_key,
           "File of this node's CURVE secret key (realtime-relay keygen --out DIR writes DIR/node.key): the mesh is encrypted and admits only known keys");
    option(app, "--cluster-peer-keys", cfg.cluster_peer_keys,
           "File (one key a line) or directory (*.pub) of the public keys of the nodes this one admits and dials");
    option(app, "--region", cfg.region, "Region of this node");
    option(app, "--db-region", cfg.db_region, "Region of the database; its relays take the slot first (default: --region)");
    option(app, "--log-level", raw.log_level, "debug, info, warn or error");
    option(app, "--max-connections", lim.max_connections, "Maximum client connections (0: as many as the open-file limit allows)");
    option(app, "--max-channels-per-client", lim.max_channels_per_client, "Channels one connection may join");
    option(app, "--max-joins-per-second", lim.max_joins_per_second, "Joins per second per connection");
    option(app, "--max-events-per-second", lim.max_events_per_second, "Messages per second per connection");
    option(app, "--max-payload-bytes", lim.max_payload_bytes, "Largest payload of one message (broadcast, presence meta, HTTP message); larger ones are refused, the socket stays");
    option(app, "--max-frame-bytes", lim.max_frame_bytes, "Largest inbound WebSocket message (larger ones close the socket, 1009) or HTTP body (413)");
    option(app, "--max-send-queue-bytes", lim.max_send_queue_bytes, "Bytes queued to a slow client before it is disconnected");
    option(app, "--idle-timeout", lim.idle_timeout_s, "Seconds of client silence before its socket is closed");
    option(app, "--handshake-timeout-ms", lim.handshake_timeout_ms, "Time a client has to send a whole WebSocket upgrade or HTTP request");
    option(app, "--resume-grace", cfg.resume_grace_s, "Seconds a restarted node keeps its old subscriptions for reconnecting clients");
    option(app, "--resume-window", cfg.resume_window_s, "Seconds a closed socket's postgres_changes subscriptions stay parked for the client to resume (0: not parked)");
    option(app, "--resume-max-changes", cfg.resume_max_changes, "Changes kept per parked subscription; past it the client is told it missed changes");
    option(app, "--resume-max-bytes", cfg.resume_max_bytes, "Bytes of changes kept per parked subscription");
    option(app, "--resume-total-bytes", cfg.resume_total_bytes, "Bytes of changes kept for all parked subscriptions of this node");
    option(app, "--heartbeat-ms", cfg.heartbeat_ms, "Cluster heartbeat period in milliseconds");
    option(app, "--peer-down-ms", cfg.peer_down_ms, "Silence after which a peer is down, in milliseconds");
    option(app, "--broadcast-max-age-ms", cfg.broadcast_max_age_ms, "A broadcast from a peer older than this (its sender's clock) is dropped, in milliseconds");
    option(app, "--handover-backlog-bytes", cfg.handover_backlog_bytes, "Bytes of unconfirmed changes the slot holder keeps per node before declaring it gone");
    option(app, "--region-takeover", cfg.region_takeover_s, "Seconds without a slot holder in the database's region before another region takes the slot");
    app.add_flag("--private-only", cfg.private_only, "Refuse joins of public channels (only private channels, authorized by realtime.messages' policies)")
        ->envname(env_name("--private-only"));
    option(app, "--policy-headers", raw.policy_headers,
           "Comma-separated request headers that private channels' policies read as request.headers");
    option(app, "--message-retention-hours", cfg.message_retention_hours, "Hours realtime.messages keeps broadcasts from the database (for replay) before their day's partition is dropped");
}

[[noreturn]] void fail(const std::string& msg) {
    fprintf(stderr, "realtime-relay: %s (see --help)\n", msg.c_str());
    std::exit(2);
}

// The non-empty entries of a comma-separated flag, trimmed of spaces.
std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> out;
    for (size_t start = 0; start <= list.size();) {
        size_t comma = list.find(',', start);
        std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        while (!item.empty() && item.back() == ' ') item.pop_back();
        while (!item.empty() && item.front() == ' ') item.erase(0, 1);
        if (!item.empty()) out.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

void read_peers(const std::string& peers, Config& cfg) {
    for (std::string& peer : split_list(peers)) {
        if (peer.rfind("tcp://", 0) != 0)
            fail("--peers entries must look like tcp://HOST:PORT[@PUBLIC_KEY], got '" + peer + "'");
        cfg.peers.push_back(std::move(peer));
    }
}

// Header names as lws compares them: lowercase; only an HTTP token's characters.
void read_policy_headers(const std::string& names, Config& cfg) {
    for (std::string& name : split_list(names)) {
        for (char& c : name) {
            c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
            if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
                fail("--policy-headers entries must be header names, got '" + name + "'");
        }
        cfg.policy_headers.push_back(std::move(name));
    }
}

// The inspector shows every channel, member and subscription of the cluster: its
// credential must not be guessable, nor one that clients hold anyway.
void check_admin(const Config& cfg) {
    if (!cfg.admin_token.empty() && cfg.admin_token.size() < 16)
        fail("--admin-token must be at least 16 bytes (a random string, e.g. openssl rand -hex 24)");
    if (cfg.admin_role == "anon" || cfg.admin_role == "authenticated")
        fail("--admin-role " + cfg.admin_role + " would make every client an admin (use e.g. service_role)");
}

void check(Config& cfg, const Raw& raw) {
    const Limits& lim = cfg.limits;
    if (!split_host_port(raw.listen, cfg.listen_host, cfg.listen_port))
        fail("--listen must be HOST:PORT, got '" + raw.listen + "'");
    if (!log::parse_level(raw.log_level, cfg.log_level))
        fail("--log-level must be debug, info, warn or error, got '" + raw.log_level + "'");
    if (cfg.jwt_secret.empty() && cfg.jwt_jwks.empty())
        fail("--jwt-secret or --jwt-jwks (REALTIME_JWT_SECRET, REALTIME_JWT_JWKS) is required");
    check_admin(cfg);
    if (cfg.node_id.empty()) cfg.node_id = default_node_id(cfg.listen_port);
    if (cfg.node_id.size() > 200) fail("--node-id is longer than 200 bytes");
    read_peers(raw.peers, cfg);
    read_policy_headers(raw.policy_headers, cfg);
    if (!cfg.cluster_bind.empty() && cfg.cluster_bind.rfind("tcp://", 0) != 0)
        fail("--cluster-bind must look like tcp://HOST:PORT, got '" + cfg.cluster_bind + "'");
    if (lim.max_channels_per_client <= 0 || lim.max_joins_per_second <= 0 || lim.max_events_per_second <= 0 ||
        lim.max_payload_bytes < 1024 || lim.max_frame_bytes < 1024 || lim.max_send_queue_bytes < 4096 ||
        lim.max_connections < 0 || lim.idle_timeout_s <= 0 || lim.handshake_timeout_ms < 100)
        fail("limits must be positive (--max-payload-bytes and --max-frame-bytes >= 1024, --max-send-queue-bytes >= "
             "4096, --handshake-timeout-ms >= 100)");
    if (cfg.heartbeat_ms <= 0 || cfg.peer_down_ms < 2 * cfg.heartbeat_ms)
        fail("--peer-down-ms must be at least twice --heartbeat-ms");
    if (cfg.resume_grace_s < 0 || cfg.region_takeover_s < 0) fail("--resume-grace and --region-takeover must be >= 0");
    if (cfg.resume_window_s < 0 || cfg.resume_max_changes < 0 || cfg.resume_max_bytes < 0 || cfg.resume_total_bytes < 0)
        fail("--resume-window, --resume-max-changes, --resume-max-bytes and --resume-total-bytes must be >= 0");
    if (cfg.handover_backlog_bytes < (1 << 20)) fail("--handover-backlog-bytes must be at least 1048576");
    if (cfg.db_pool_size < 1 || cfg.db_pool_size > 256) fail("--db-pool-size must be between 1 and 256");
    if (cfg.db_statement_timeout_ms < 1) fail("--db-statement-timeout-ms must be positive");
    if (cfg.rls_check_timeout_ms < 1) fail("--rls-check-timeout-ms must be positive");
    if (cfg.message_retention_hours < 1) fail("--message-retention-hours must be at least 1");
}

}  // namespace

Config parse_config(int argc, char** argv) {
    Config cfg;
    CLI::App app{"realtime-relay: a Supabase Realtime compatible server for Postgres.\n"
                 "Every flag can also be set by the environment variable REALTIME_<FLAG>,\n"
                 "e.g. --jwt-secret as REALTIME_JWT_SECRET.",
                 "realtime-relay"};
    app.get_formatter()->column_width(40);
    Raw raw;
    add_options(app, cfg, raw);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        std::exit(app.exit(e));
    } catch (const CLI::ParseError& e) {
        fprintf(stderr, "realtime-relay: %s (see --help)\n", e.what());
        std::exit(2);
    }
    check(cfg, raw);
    return cfg;
}

}  // namespace rt
