// The slot stream (I/O): competes for the logical slot, streams it with the replication
// protocol (XLogData 'w', keepalives 'k'), hands each plugin document to the router, and
// sends standby status updates with what the AckTracker says may be confirmed.
//
// Slot ownership is the cluster's leader lock: Postgres lets one connection stream a
// slot at a time, so every relay tries and the one that gets it streams; the others
// try again every second.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "relay/core/config.h"
#include "relay/core/metrics.h"
#include "relay/slot/ack_tracker.h"
#include "relay/slot/hand_over_inbox.h"
#include "relay/slot/router.h"

struct pg_conn;

namespace rt {

// The slot election as the stream asks it (the mesh; every member may be empty).
struct SlotElection {
    std::function<bool()> may_take;        // this node may take the slot now (region preference)
    std::function<bool()> should_release;  // a holder must give it back (a relay of the database's region is up)
    std::function<void(bool competes, bool holding)> report;  // reaches the database to compete; holds the slot
    std::function<void(const std::string& node)> node_gone;   // the hand-over gave up on node: remove its rows
    std::function<std::vector<std::string>()> hung_holders;   // peers holding the slot that went silent
};

class SlotStream {
public:
    SlotStream(const Config& cfg, Metrics& metrics, AckTracker& ack, SlotRouter& router, HandOverInbox& inbox,
               SlotElection election);
    ~SlotStream();

    void start();
    void stop();  // releases the slot
    bool holding() const { return holding_.load(); }

private:
    enum class Opened { Streaming, Busy, Failed };

    void run();
    void wait_while_busy();
    bool stream_once();  // one connection's life; false when the slot was busy
    Opened open_slot(pg_conn* c);
    void stream(pg_conn* c);
    bool handle_copy_message(pg_conn* c, const char* buf, int len);
    void handle_document(std::string_view text);
    bool send_status(pg_conn* c);
    void serve_hand_over();
    void report_state(bool competes, bool holding);

    const Config& cfg_;
    Metrics& metrics_;
    AckTracker& ack_;
    SlotRouter& router_;
    HandOverInbox& inbox_;
    SlotElection election_;
    std::thread thread_;
    std::atomic<bool> running_{false};
    std::atomic<bool> holding_{false};
    uint64_t server_wal_end_ = 0;
    int64_t last_status_ms_ = 0;
    int64_t last_hand_over_ms_ = 0;
    int64_t last_takeover_ms_ = 0;  // hung holders' walsenders were last ended
};

}  // namespace rt
