// Counters and gauges of the relay, updated from any thread, rendered as Prometheus text.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace rt {

// A fixed-bucket latency histogram (Prometheus cumulative buckets), lock-free.
class LatencyHistogram {
public:
    static constexpr std::array<double, 12> kBoundsMs = {0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000};
    void observe_ms(double ms);
    void render(std::string& out, const char* name, const char* help) const;
    // Observations per bucket (not cumulative), the last one above every bound.
    std::array<uint64_t, kBoundsMs.size() + 1> counts() const;

private:
    std::array<std::atomic<uint64_t>, kBoundsMs.size() + 1> buckets_{};
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_us_{0};
};

struct Metrics {
    using Counter = std::atomic<uint64_t>;
    using Gauge = std::atomic<int64_t>;

    Gauge connections{0};
    Gauge channels{0};
    Gauge presence_entries{0};
    Gauge subscriptions{0};
    Counter connections_total{0};
    Counter connections_refused{0};
    Counter requests_timed_out{0};  // handshakes and HTTP requests not complete in time
    Counter messages_in{0};
    Counter messages_out{0};
    Counter bytes_in{0};
    Counter bytes_out{0};
    Counter protocol_errors{0};
    Counter rate_limited{0};
    Counter slow_client_disconnects{0};
    Counter dropped_messages{0};   // could not be delivered (slow client, encoding, overflow)
    Counter broadcasts{0};
    Counter broadcast_deliveries{0};  // broadcast frames queued to members
    Counter changes_received{0};   // documents this node got from the slot or the mesh
    Counter changes_delivered{0};  // postgres_changes frames queued to clients
    Counter changes_duplicate{0};
    Counter change_gaps{0};        // per-node sequence gaps seen on the mesh
    Counter mesh_sent{0};
    Counter mesh_received{0};
    Counter mesh_dropped{0};       // refused at the high-water mark
    Counter mesh_peers_refused{0};     // connecting peers the ZAP handler refused (unknown key, not CURVE)
    Counter mesh_handshakes_failed{0}; // failed handshakes on this node's mesh endpoint (refusals included)
    Counter rls_check_calls{0};     // realtime.check_rows calls of the slot holder
    Counter rls_check_failures{0};  // of them, failed or timed out (their candidates got nothing)
    Gauge rls_check_waiting{0};     // documents waiting in the slot holder (for a check, or behind one)
    Counter authorization_checks{0};   // realtime.authorize calls (private channels)
    Counter authorization_denied{0};   // private joins refused, sends and tracks denied
    Counter replays{0};                // joins that replayed stored messages
    Counter message_maintenance{0};    // realtime.maintain_messages runs that succeeded
    Gauge handover_backlog_bytes{0};    // changes the slot holder keeps until nodes confirm them
    Gauge handover_backlog_changes{0};
    Counter handover_resent{0};
    Counter handover_acks{0};           // confirmations the slot holder received from nodes
    Counter handover_dropped{0};        // kept changes dropped past the backlog's bounds
    Counter handover_gone{0};           // nodes the hand-over gave up on
    Counter handover_lost{0};           // this node learned that changes for it were dropped
    Gauge resume_parked{0};             // parked subscriptions (closed sockets, crash orphans)
    Gauge resume_kept_changes{0};       // changes kept for them
    Gauge resume_kept_bytes{0};
    Counter resume_recovered{0};        // parked subscriptions a rejoining client adopted
    Counter resume_recovered_changes{0};
    Counter resume_overflows{0};        // parked subscriptions that missed more than they could keep
    Counter resume_expired{0};          // parked subscriptions whose window passed
    Counter resume_claims_changed{0};   // parked subscriptions not adopted: the rejoin's claims differ
    Counter resume_handed_over{0};      // slot holder: kept changes handed to the node a subscription moved to
    Counter resume_moved{0};            // parked subscriptions another node adopted (their kept changes sent to it)
    Counter resume_not_handed_over{0};  // adopted from a live node that did not hand over what it kept in time
    Counter broadcasts_stale{0};        // peers' broadcasts dropped as older than --broadcast-max-age-ms
    Counter slot_holder_conflicts{0};   // a peer said it holds the slot while this node or another did
    Gauge slot_holder{0};
    Gauge slot_lag_bytes{0};
    Gauge slot_lag_ms{0};
    Gauge peers_up{0};
    LatencyHistogram decode_to_send;

    std::string render() const;
};

}  // namespace rt
