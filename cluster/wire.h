// The messages relays exchange over the ZeroMQ mesh, and their encoding. Pure logic.
//
// A mesh message has three frames:
//   0  routing key: "H" heartbeats, "P" presence, "Q" inspectors' questions,
//      "N:<node>\0" addressed to one node,
//      "B:<channel key>\0" broadcasts (the key, topic::channel_key, keeps a private channel
//      apart from its topic's public one). SUB sockets subscribe by prefix, so the publisher
//      sends a channel's broadcasts only to nodes that have members, and a node's own
//      messages only to it; the NUL keeps "room1" from matching "room10".
//   1  header: version, type, sender node id, incarnation, stream sequence number
//   2  body, by type (length-prefixed binary fields)
// Sequence numbers count per stream (heartbeats; presence; messages to one node;
// broadcasts of one topic), so receivers see gaps in what they subscribed to.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/events.h"
#include "relay/core/inspect.h"
#include "relay/core/node_stats.h"

namespace rt::cluster {

// Messages a peer (and an inproc sender) may have queued before ZeroMQ drops; what it
// still drops shows as sequence gaps.
inline constexpr int kHighWaterMark = 200000;

enum class MsgType : uint8_t {
    Heartbeat = 1,
    Broadcast = 2,
    PresenceDelta = 3,
    SnapshotRequest = 4,
    Snapshot = 5,
    Change = 6,
    RouteProbe = 7,  // to one node: "publish a RouteAck on this channel's topic"
    RouteAck = 8,    // on the channel's topic: received only once the asker's subscription is in effect
    HandOverAck = 9,   // to the slot holder: what this node processed of its stream (HandOverAck)
    HandOverBase = 10, // to one node: the oldest change the holder can still give it (HandOverTag)
    InspectQuery = 11,   // to every node ("Q"): an inspector's question about channels
    InspectAnswer = 12, // to the node that asked
    KeptAsk = 13,       // to the node a moved subscription was parked on: "hand me what you kept"
    KeptHandOver = 14,  // to the node that asked: the kept changes, in commit order
};
inline constexpr uint8_t kLastMsgType = 14;

struct Header {
    MsgType type = MsgType::Heartbeat;
    std::string node;
    uint64_t incarnation = 0;
    uint64_t seq = 0;
};

struct Heartbeat {
    std::string endpoint;
    std::string region;
    uint64_t presence_seq = 0;
    bool competes = false;     // takes part in the slot election
    bool slot_holder = false;
    NodeReading reading;       // its counters now (the inspector's view of the cluster)
};

// A node that started listening to a channel asks each peer whether its subscription
// has reached it: ZeroMQ filters at the publisher, and the subscription travels there
// asynchronously. The answer goes out on the channel's own topic, so receiving it proves
// the route. A join is answered only then, so its first broadcasts are not lost.
struct RouteCheck {
    std::string topic;
    std::string asker;  // RouteAck: the node that asked
    uint64_t token = 0;
};

struct PresenceSnapshot {
    uint64_t presence_seq = 0;           // the last delta the snapshot includes
    std::vector<PresenceDelta> entries;  // all joins
};

std::string routing_heartbeat();
std::string routing_presence();
std::string routing_inspect();  // "Q": every node subscribes to it
std::string routing_node(std::string_view node);
std::string routing_broadcast(std::string_view topic);

// The topic of a channel's key "B:<topic>\0"; false for any other key.
bool broadcast_topic(std::string_view routing, std::string& topic);

// The frame between a producer's MeshSender and the mesh thread (inproc): the type, and
// for presence deltas the sequence number the loop stamped on it.
std::string encode_kind(MsgType type, uint64_t presence_seq);
bool decode_kind(std::string_view frame, MsgType& type, uint64_t& presence_seq);

std::string encode_header(const Header& h);
bool decode_header(std::string_view data, Header& out);

std::string encode(const Heartbeat& m);
std::string encode(const BroadcastMsg& m);
std::string encode(const PresenceDelta& m);
std::string encode(const PresenceSnapshot& m);
std::string encode(const RouteCheck& m);
std::string encode(const HandOverAck& m);
std::string encode(const HandOverTag& m);  // a base notice
// A change as the slot holder hands it to a node: its place in the hand-over, then the event.
std::string encode_change(const HandOverTag& tag, const ChangeEvent& ev);
std::string encode(const InspectQuery& m);
std::string encode(const InspectAnswer& m);
std::string encode(const KeptAsk& m);
std::string encode(const KeptHandOver& m);

bool decode(std::string_view data, Heartbeat& out);
bool decode(std::string_view data, BroadcastMsg& out);
bool decode(std::string_view data, PresenceDelta& out);
bool decode(std::string_view data, PresenceSnapshot& out);
bool decode(std::string_view data, RouteCheck& out);
bool decode(std::string_view data, HandOverAck& out);
bool decode(std::string_view data, HandOverTag& out);
bool decode_change(std::string_view data, HandOverTag& tag, ChangeEvent& ev);
bool decode(std::string_view data, InspectQuery& out);
bool decode(std::string_view data, InspectAnswer& out);
bool decode(std::string_view data, KeptAsk& out);
bool decode(std::string_view data, KeptHandOver& out);

}  // namespace rt::cluster
