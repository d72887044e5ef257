// Prometheus text rendering of the relay's metrics.
#include "relay/core/metrics.h"

#include <cstdio>

namespace rt {

constexpr std::array<double, 12> LatencyHistogram::kBoundsMs;

void LatencyHistogram::observe_ms(double ms) {
    size_t i = 0;
    while (i < kBoundsMs.size() && ms > kBoundsMs[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(static_cast<uint64_t>(ms * 1000.0), std::memory_order_relaxed);
}

std::array<uint64_t, LatencyHistogram::kBoundsMs.size() + 1> LatencyHistogram::counts() const {
    std::array<uint64_t, kBoundsMs.size() + 1> out{};
    for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
    return out;
}

void LatencyHistogram::render(std::string& out, const char* name, const char* help) const {
    char line[256];
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    out += line;
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kBoundsMs.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        if (i < kBoundsMs.size())
            snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", name, kBoundsMs[i] / 1000.0,
                     static_cast<unsigned long long>(cumulative));
        else
            snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n", name,
                     static_cast<unsigned long long>(cumulative));
        out += line;
    }
    snprintf(line, sizeof line, "%s_sum %.6f\n%s_count %llu\n", name,
             sum_us_.load(std::memory_order_relaxed) / 1e6, name,
             static_cast<unsigned long long>(count_.load(std::memory_order_relaxed)));
    out += line;
}

namespace {
template <typename T>
void metric(std::string& out, const char* name, const char* type, const char* help, const std::atomic<T>& v) {
    char line[320];
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name,
             static_cast<long long>(v.load(std::memory_order_relaxed)));
    out += line;
}
}  // namespace

std::string Metrics::render() const {
    std::string out;
    out.reserve(4096);
    metric(out, "realtime_connections", "gauge", "Open client WebSocket connections", connections);
    metric(out, "realtime_channels", "gauge", "Channels with at least one member on this node", channels);
    metric(out, "realtime_presence_entries", "gauge", "Presence entries known to this node", presence_entries);
    metric(out, "realtime_subscriptions", "gauge", "postgres_changes bindings of this node's clients", subscriptions);
    metric(out, "realtime_connections_total", "counter", "Client connections accepted", connections_total);
    metric(out, "realtime_connections_refused_total", "counter", "Client connections refused (auth, limits)", connections_refused);
    metric(out, "realtime_requests_timed_out_total", "counter", "Handshakes and HTTP requests closed for not arriving within --handshake-timeout-ms", requests_timed_out);
    metric(out, "realtime_messages_in_total", "counter", "WebSocket messages received from clients", messages_in);
    metric(out, "realtime_messages_out_total", "counter", "WebSocket messages written to clients", messages_out);
    metric(out, "realtime_bytes_in_total", "counter", "Bytes received from clients", bytes_in);
    metric(out, "realtime_bytes_out_total", "counter", "Bytes written to clients", bytes_out);
    metric(out, "realtime_protocol_errors_total", "counter", "Malformed or refused client messages", protocol_errors);
    metric(out, "realtime_rate_limited_total", "counter", "Messages or joins refused by rate limits", rate_limited);
    metric(out, "realtime_slow_client_disconnects_total", "counter", "Clients disconnected for a full send queue, or for a change frame they did not take within the cutoff", slow_client_disconnects);
    metric(out, "realtime_dropped_messages_total", "counter", "Messages that could not be delivered", dropped_messages);
    metric(out, "realtime_rls_check_calls_total", "counter", "Row level security checks (realtime.check_rows calls) made", rls_check_calls);
    metric(out, "realtime_rls_check_failures_total", "counter", "Row level security check calls that failed or timed out", rls_check_failures);
    metric(out, "realtime_rls_check_waiting", "gauge", "Documents the slot holder holds for a check, or behind one", rls_check_waiting);
    metric(out, "realtime_broadcasts_total", "counter", "Broadcasts fanned out on this node", broadcasts);
    metric(out, "realtime_broadcast_deliveries_total", "counter", "Broadcast frames queued to members", broadcast_deliveries);
    metric(out, "realtime_changes_received_total", "counter", "Change documents received from the slot or the mesh", changes_received);
    metric(out, "realtime_changes_delivered_total", "counter", "postgres_changes messages queued to clients", changes_delivered);
    metric(out, "realtime_changes_duplicate_total", "counter", "Change documents dropped as already delivered", changes_duplicate);
    metric(out, "realtime_change_gaps_total", "counter", "Gaps in the per-node change sequence from the slot holder", change_gaps);
    metric(out, "realtime_mesh_sent_total", "counter", "Messages published to the cluster mesh", mesh_sent);
    metric(out, "realtime_mesh_received_total", "counter", "Messages received from the cluster mesh", mesh_received);
    metric(out, "realtime_mesh_dropped_total", "counter", "Mesh messages dropped at the high-water mark", mesh_dropped);
    metric(out, "realtime_mesh_peers_refused_total", "counter", "Peers refused on the cluster endpoint (public key not trusted, or not CURVE)", mesh_peers_refused);
    metric(out, "realtime_mesh_handshakes_failed_total", "counter", "Failed handshakes on the cluster endpoint (refused peers, wrong server key, no encryption)", mesh_handshakes_failed);
    metric(out, "realtime_authorization_checks_total", "counter", "Realtime Authorization checks run (realtime.authorize)", authorization_checks);
    metric(out, "realtime_authorization_denied_total", "counter", "Private joins refused and sends or tracks denied by policies", authorization_denied);
    metric(out, "realtime_replays_total", "counter", "Private joins that replayed stored broadcasts", replays);
    metric(out, "realtime_message_maintenance_total", "counter", "realtime.maintain_messages runs that succeeded", message_maintenance);
    metric(out, "realtime_handover_backlog_bytes", "gauge", "Bytes of changes the slot holder keeps until the nodes they are for confirm them", handover_backlog_bytes);
    metric(out, "realtime_handover_backlog_changes", "gauge", "Changes the slot holder keeps until the nodes they are for confirm them", handover_backlog_changes);
    metric(out, "realtime_handover_resent_total", "counter", "Changes the slot holder sent a node again (unconfirmed, or asked for)", handover_resent);
    metric(out, "realtime_handover_acks_total", "counter", "Confirmations of handed-over changes the slot holder received", handover_acks);
    metric(out, "realtime_handover_dropped_total", "counter", "Unconfirmed changes dropped past the backlog's bounds (bytes or time)", handover_dropped);
    metric(out, "realtime_handover_gone_total", "counter", "Nodes declared gone by the hand-over (backlog past its bounds)", handover_gone);
    metric(out, "realtime_broadcasts_stale_total", "counter", "Broadcasts from peers dropped as older than --broadcast-max-age-ms", broadcasts_stale);
    metric(out, "realtime_handover_lost_total", "counter", "Times this node learned the slot holder dropped changes for it (its clients rejoin)", handover_lost);
    metric(out, "realtime_resume_parked", "gauge", "postgres_changes subscriptions parked for their clients to resume", resume_parked);
    metric(out, "realtime_resume_kept_changes", "gauge", "Changes kept for parked subscriptions", resume_kept_changes);
    metric(out, "realtime_resume_kept_bytes", "gauge", "Bytes of changes kept for parked subscriptions (a change shared by several counted for each)", resume_kept_bytes);
    metric(out, "realtime_resume_recovered_total", "counter", "Parked subscriptions adopted by a rejoining client", resume_recovered);
    metric(out, "realtime_resume_recovered_changes_total", "counter", "Kept changes delivered to clients that resumed", resume_recovered_changes);
    metric(out, "realtime_resume_overflows_total", "counter", "Parked subscriptions that missed more changes than they could keep", resume_overflows);
    metric(out, "realtime_resume_expired_total", "counter", "Parked subscriptions removed when their window passed", resume_expired);
    metric(out, "realtime_resume_claims_changed_total", "counter", "Parked subscriptions not adopted because the rejoining token's claims differ (their kept changes dropped)", resume_claims_changed);
    metric(out, "realtime_resume_handed_over_total", "counter", "Slot holder: changes kept for a dead node's subscription, handed to the node it moved to", resume_handed_over);
    metric(out, "realtime_resume_moved_total", "counter", "Parked subscriptions another node adopted, their kept changes handed to it", resume_moved);
    metric(out, "realtime_resume_not_handed_over_total", "counter", "Joins that adopted subscriptions parked on a live node which did not hand over what it kept in time (told they missed changes)", resume_not_handed_over);
    metric(out, "realtime_slot_holder_conflicts_total", "counter", "Heartbeats of a peer saying it holds the slot while this node or another peer did", slot_holder_conflicts);
    metric(out, "realtime_slot_holder", "gauge", "1 if this node streams the replication slot", slot_holder);
    metric(out, "realtime_slot_lag_bytes", "gauge", "WAL bytes between the server's position and the last acknowledged", slot_lag_bytes);
    metric(out, "realtime_slot_lag_ms", "gauge", "How long the oldest position received from the slot has waited for its acknowledgement", slot_lag_ms);
    metric(out, "realtime_peers_up", "gauge", "Cluster peers currently up", peers_up);
    decode_to_send.render(out, "realtime_decode_to_send_seconds",
                          "From a change document's arrival on this node to its frames being queued");
    return out;
}

}  // namespace rt
