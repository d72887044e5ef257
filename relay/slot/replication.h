// The replication thread (I/O): competes for the logical slot, streams it with the
// replication protocol, turns each plugin document into deliveries (this node's loop,
// or peers through the mesh), and acknowledges to Postgres only what was handed over.
//
// Slot ownership is the cluster's leader lock: Postgres lets one connection stream a
// slot at a time, so every relay tries and the one that gets it streams; the others
// try again every second.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <utility>
#include <functional>
#include <string>
#include <thread>

#include "relay/core/config.h"
#include "relay/core/events.h"
#include "relay/core/metrics.h"

struct pg_conn;

namespace rt {

class Replication {
public:
    struct Routes {
        // Hand an event to this node's loop; the loop calls local_done() when processed.
        std::function<void(ChangeEvent&&)> local;
        // Publish an event to another node; false when that node cannot be reached.
        std::function<bool(const std::string& node, const ChangeEvent&)> remote;
        // A broadcast from SQL: to this node's loop (which calls local_done) and the mesh.
        std::function<void(BroadcastMsg&&)> broadcast;
        // Whether this node may take the slot now (region preference); null: always.
        std::function<bool()> may_take_slot;
        // Whether a holder must give the slot back (a relay of the database's region is up).
        std::function<bool()> should_release;
        // Reports whether this node reaches the database to compete, and whether it holds the slot.
        std::function<void(bool competes, bool holding)> slot_state;
    };

    Replication(const Config& cfg, Metrics& metrics, Routes routes);
    ~Replication();

    void start();
    void stop();  // releases the slot

    // Loop thread: an event handed over by `local` was processed. held_floor is the
    // lowest commit LSN the loop still holds undelivered (0: none).
    void local_done(uint64_t commit_lsn, uint64_t held_floor);
    bool holding() const { return holding_.load(); }

private:
    void run();
    bool stream_once();  // one connection's life; false when the slot was busy
    bool handle_copy_message(pg_conn* c, const char* buf, int len);
    void handle_document(std::string_view text);
    void route(const std::string& node, ChangeEvent&& ev);
    bool send_status(pg_conn* c, bool reply_requested);
    uint64_t ack_position() const;
    void report_state(bool competes, bool holding);

    const Config& cfg_;
    Metrics& metrics_;
    Routes routes_;
    std::thread thread_;
    std::atomic<bool> running_{false};
    std::atomic<bool> holding_{false};

    // Acknowledgement state: what the stream has shown us, and what the loop finished.
    uint64_t received_lsn_ = 0;  // safe position seen in the stream (docs and keepalives)
    // Positions with the time they were reached: what went to peers is acknowledged only
    // once ZeroMQ has had time to put it on the wire (a SIGKILL loses its queues).
    std::deque<std::pair<int64_t, uint64_t>> reached_;
    void advance_received(uint64_t lsn);
    uint64_t settled_position() const;
    uint64_t server_wal_end_ = 0;
    uint64_t last_sent_ack_ = 0;
    int64_t last_status_ms_ = 0;
    std::atomic<uint64_t> posted_{0};
    std::atomic<uint64_t> done_{0};
    std::atomic<uint64_t> done_lsn_{0};
    std::atomic<uint64_t> held_floor_{0};
};

}  // namespace rt
