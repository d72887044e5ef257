// The relay's configuration: every flag of design 3.4 (each also read from
// REALTIME_<FLAG>), with defaults, and its parsing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "relay/core/log.h"

namespace rt {

struct Limits {
    int max_connections = 0;             // 0: as many as the open-file limit allows
    int max_channels_per_client = 100;
    int max_joins_per_second = 100;      // per connection
    int max_events_per_second = 100;     // per connection, messages of any kind
    // As Supabase's defaults: a message's payload (broadcast, presence meta, HTTP message)
    // up to 3000 KB, larger ones refused without closing anything; a WebSocket message
    // (or HTTP body) up to 5 000 000 bytes, a larger one closes the socket (1009).
    int64_t max_payload_bytes = 3'000'000;
    int64_t max_frame_bytes = 5'000'000;
    int64_t max_send_queue_bytes = 16 << 20;  // per connection, then it is disconnected
    int idle_timeout_s = 60;             // a socket silent this long is closed
    int handshake_timeout_ms = 5000;     // a WebSocket upgrade or HTTP request must arrive whole within it
};

struct Config {
    std::string node_id;
    std::string listen_host = "127.0.0.1";
    int listen_port = 4000;
    std::string db;                      // libpq conninfo; empty: no Postgres Changes
    int db_pool_size = 4;                // connections for clients' database work
    int db_statement_timeout_ms = 5000;  // statement_timeout of every relay session but the slot's
    int rls_check_timeout_ms = 2000;     // a row level security check (realtime.check_rows) of the slot holder
    std::string slot = "realtime_relay";
    bool no_replication = false;
    std::string jwt_secret;              // HS256/384/512 tokens; empty: none
    std::string jwt_jwks;                // path of a JWKS file (RS*, ES*, EdDSA, oct keys); empty: none
    std::string admin_token;             // the inspector's credential; empty: none
    std::string admin_role;              // a JWT with this role is an admin too; empty: none
    std::string cluster_bind;            // tcp://HOST:PORT, empty: single node
    std::vector<std::string> peers;      // as given: tcp://HOST:PORT, or tcp://HOST:PORT@PUBLIC_KEY
    // The mesh's CURVE keys (cluster/mesh_security): this node's secret key file, and a
    // file or directory (*.pub) of the public keys of the nodes it admits and dials.
    std::string cluster_key;
    std::string cluster_peer_keys;
    std::string region;
    std::string db_region;               // empty: same as region
    log::Level log_level = log::Level::Info;
    Limits limits;
    int resume_grace_s = 10;
    // Parked subscriptions of closed sockets (hub/resume): kept this long, and what they
    // match kept up to these bounds per subscription and in total.
    int resume_window_s = 120;
    int resume_max_changes = 10000;
    int64_t resume_max_bytes = 4 << 20;
    int64_t resume_total_bytes = 256 << 20;
    int heartbeat_ms = 500;
    int peer_down_ms = 3000;
    int region_takeover_s = 5;
    bool private_only = false;           // public channels refused (Supabase's "allow public access" off)
    int message_retention_hours = 72;    // realtime.messages kept at least this long (realtime.maintain_messages)
    int64_t handover_backlog_bytes = 64 << 20;  // per node, on the slot holder
    // The request headers private channels' policies see as request.headers (lowercase
    // names). lws 4.1 cannot list a request's headers, so they are named here.
    std::vector<std::string> policy_headers;
    int broadcast_max_age_ms = 5000;     // a peer's broadcast older than this is dropped (live messages)

    // The region whose relays take the slot first.
    const std::string& slot_region() const { return db_region.empty() ? region : db_region; }
    // A node silent (or unconfirming) this long is gone: the slot holder removes its
    // subscriptions and stops keeping changes for it. Past the mesh's down period and past
    // --resume-grace, so a crashed node restarted quickly resumes its clients with
    // everything; 2 s for the registry's beats.
    // A slot holder silent this long is hung (issue 14, fault 5): a standby with a majority
    // terminates its walsender and takes over. Well under --peer-down-ms by default (1.5 s).
    int64_t holder_silence_ms() const {
        int64_t beats = 3 * static_cast<int64_t>(heartbeat_ms), least = heartbeat_ms + 800;
        return beats > least ? beats : least;
    }
    // A holder's thread that did not run for this long may have been taken over meanwhile
    // (a standby counts the silence from its last heartbeat, up to a beat earlier).
    int64_t stall_ms() const { return holder_silence_ms() - heartbeat_ms; }
    int64_t gone_after_ms() const {
        int64_t down = peer_down_ms + 2000, resume = static_cast<int64_t>(resume_grace_s) * 1000 + 2000;
        return down > resume ? down : resume;
    }
    // A change frame waiting this long for a client's socket cuts the client off (it holds
    // back the node's confirmations, hub/write_ledger): well within the gone delay, at most 5 s.
    int64_t unwritten_cutoff_ms() const {
        int64_t half = gone_after_ms() / 2;
        return half < 5000 ? half : 5000;
    }
};

// Parses argv and the REALTIME_* environment. On --help prints usage and exits 0; on a
// bad flag prints one line to stderr and exits 2.
Config parse_config(int argc, char** argv);

}  // namespace rt
