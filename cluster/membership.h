// Who is in the cluster and in what state, from what the mesh delivers: peers up and
// down by heartbeat, incarnations, per-stream sequence gaps, presence replication
// (the ZeroMQ guide's Clone pattern: deltas in sequence, a snapshot on a gap or a new
// incarnation), and the facts the slot election needs. Pure logic: the mesh thread
// feeds it messages and the clock, and carries out the actions it returns.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cluster/wire.h"

namespace rt::cluster {

enum class PeerState { Up, Down };

// Another node as the node registry lists it.
struct ListedPeer {
    std::string node;
    std::string endpoint;
    double age_s = 0;  // since its last recorded beat
    std::string public_key;  // its mesh's CURVE public key (Z85), empty when none
};

struct Peer {
    std::string node;
    std::string endpoint;
    std::string region;
    uint64_t incarnation = 0;
    PeerState state = PeerState::Down;
    bool competes = false;
    bool slot_holder = false;
    bool held_at_last_beat = false;  // its last heartbeat said it holds the slot (kept when it goes down)
    int64_t last_heard_ms = 0;
    int64_t last_held_slot_ms = 0;
    NodeReading reading;  // from its last heartbeat

    // presence replication
    bool presence_synced = false;
    uint64_t presence_seq = 0;  // last applied
    int64_t snapshot_requested_ms = 0;
    std::vector<std::pair<uint64_t, PresenceDelta>> pending;  // deltas waiting for a snapshot

    // sequence tracking of the streams we receive from this peer
    uint64_t node_stream_seq = 0;
    std::unordered_map<std::string, uint64_t> broadcast_seq;
};

// What the mesh must do after feeding the membership. Applied in this order.
struct Actions {
    std::vector<std::string> forget_presence;                            // down or new incarnation
    std::vector<std::pair<std::string, PresenceSnapshot>> snapshots;     // replace a node's entries
    std::vector<std::pair<std::string, PresenceDelta>> deltas;           // apply in order
    std::vector<std::string> request_snapshot;                           // ask these nodes
    std::vector<std::string> connect;                                    // endpoints to subscribe to
    std::vector<std::string> returned;                                   // up again, or a new incarnation
    std::vector<std::string> left;                                       // went down
    std::vector<std::string> log;                                        // state changes worth a line
};

class Membership {
public:
    Membership(std::string self, int peer_down_ms) : self_(std::move(self)), down_ms_(peer_down_ms) {}

    // Every message: liveness and incarnation. False if it comes from ourselves.
    bool on_message(const Header& h, int64_t now_ms, Actions& out);
    void on_heartbeat(const Header& h, const Heartbeat& hb, int64_t now_ms, Actions& out);
    void on_presence_delta(const Header& h, PresenceDelta delta, int64_t now_ms, Actions& out);
    void on_snapshot(const Header& h, PresenceSnapshot snapshot, int64_t now_ms, Actions& out);
    // Messages lost on a stream before this one (0: none).
    uint64_t node_stream_gap(const Header& h);
    uint64_t broadcast_gap(const Header& h, const std::string& topic);
    // This node subscribes to topic again: what peers published on it meanwhile was
    // filtered out at the publisher, not lost, so their sequences restart.
    void forget_broadcast_seq(const std::string& topic);
    // Peers silent for the down period go down; unanswered snapshot requests are repeated.
    void tick(int64_t now_ms, Actions& out);
    // An endpoint learned elsewhere (flags, registry).
    void add_endpoint(const std::string& endpoint, Actions& out);
    // A peer is expected at endpoint until until_ms (a node that just started waits for
    // the peers it was told of before it answers joins): true if it was not expected yet.
    bool expect(const std::string& endpoint, int64_t until_ms);
    // Still expected at endpoint and not heard there.
    bool expected(const std::string& endpoint, int64_t now_ms) const;
    // The endpoints expected now and not heard yet.
    std::vector<std::string> unheard(int64_t now_ms) const;
    // The up peer heard at endpoint ("": none).
    std::string node_at(const std::string& endpoint) const;

    const std::unordered_map<std::string, Peer>& peers() const { return peers_; }
    bool is_up(const std::string& node) const;
    std::vector<std::string> up_peers() const;
    size_t up_count() const;
    // {"node_id","state","region","endpoint","slot_holder"} per peer, as a JSON array.
    std::string peers_json() const;
    // Every peer as the inspector lists it, with its last heartbeat's reading.
    std::vector<NodeView> views(int64_t now_ms) const;
    // Most recent time an up peer of region said it held the slot (0: never).
    int64_t last_slot_holder_in(const std::string& region) const;
    // An up peer says it holds the slot.
    bool holder_up() const;
    // Peers whose last heartbeat said they hold the slot, silent for silence_ms, while no
    // peer saying it holds the slot was heard within it (hung holders, issue 14, fault 5).
    std::vector<std::string> hung_holders(int64_t now_ms, int64_t silence_ms) const;
    // An up peer other than node, heard within within_ms, says it holds the slot.
    bool other_holder_heard(const std::string& node, int64_t now_ms, int64_t within_ms) const;
    // An up peer of region takes part in the election.
    bool competitor_up_in(const std::string& region) const;

private:
    Peer& peer(const std::string& node);
    void request_snapshot(Peer& p, int64_t now_ms, Actions& out);
    void apply_or_buffer(Peer& p, uint64_t seq, PresenceDelta delta, int64_t now_ms, Actions& out);

    std::string self_;
    int down_ms_;
    std::unordered_map<std::string, Peer> peers_;
    std::vector<std::string> endpoints_;
    std::unordered_map<std::string, int64_t> expected_;  // endpoint -> expected until
};

}  // namespace rt::cluster
