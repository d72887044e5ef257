// The loop's state, as plain data: connections, their memberships of channels, and
// channels. The Hub owns connections (and through them memberships); Channels owns the
// channels. The hub's features read and update these; only the loop thread touches them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/core/events.h"
#include "relay/protocol/join_config.h"
#include "relay/protocol/jwt.h"
#include "relay/protocol/phoenix.h"
#include "relay/protocol/rate_limit.h"
#include "relay/protocol/send_queue.h"

namespace rt {

struct Channel;
struct Connection;

// The loop's clock, set by the loop before it calls into the hub (tests set it by hand).
struct LoopClock {
    int64_t mono_ms = 0;
    int64_t wall_s = 0;
    int64_t wall_ms = 0;  // the same, finer: compared with peers' broadcast stamps
};

// One postgres_changes binding of a membership.
// A binding that cannot be subscribed (error set) keeps its place in the join reply with
// an id of its own below zero, which no subscription row has.
struct Binding : BindingRequest {
    int64_t id = 0;         // < 0: refused at subscribe (no row; a unique id for the reply)
    bool live = false;      // the decoder has it (a SUBSCRIBED document was seen)
    bool ended = false;     // the slot holder ended it (failed): no deliveries, its row removed
    bool failed() const { return !error.empty(); }  // refused at subscribe
};

// One connection's membership of one channel.
struct Member {
    uint64_t id = 0;        // unique for the life of the relay; presence owner
    Connection* conn = nullptr;
    Channel* channel = nullptr;
    size_t slot = 0;        // index in channel->members
    std::string join_ref;
    bool joined = false;    // false while its postgres_changes bindings are being created
    int64_t joined_wall_ms = 0;  // when its join was answered: a peer's broadcast sent before is not for it
    bool self = false;
    bool ack = false;
    bool replication_ready = false;  // asked for the "Replication connection established" event
    bool presence_enabled = false;
    bool announced = false;  // "Subscribed to PostgreSQL" sent
    std::string presence_key;
    std::vector<Binding> bindings;
    std::string access_token;  // the token this channel was authorized with
    int64_t token_exp = 0;
    std::optional<std::string> pending_ref;  // ref of the join awaiting its reply
    std::unique_ptr<Claims> own_claims;  // set when the join or an access_token push carried a token
    std::vector<ChangeEvent> replay;  // changes for its ids before its reply (held for adopted ones, or arrived meanwhile), sent after it
    uint64_t change_stamp = 0;        // last change event queued to it (deduplicates its ids)
    ChangePos delivered;              // the latest change queued to it (recovered ones are deduplicated by it)
    int64_t missed_since_s = 0;       // resumed (or came back too late) having missed changes since
    enum class Missed : uint8_t { Overflow, Window, Claims, Expired, NodeDied, NotHandedOver };
    Missed missed_why = Missed::Overflow;  // ... because more changed than was kept, its window passed,
                                           // its token's claims changed (nothing kept is handed over),
                                           // its token expired while parked (nothing kept after that), or
                                           // the node that kept them died (told once it is live: after
                                           // what the slot holder handed over), or the live node they
                                           // were parked on did not hand them over in time
    // Adopted rows parked on a node that still beats (hub/kept_transfer): the join waits
    // for what that node kept since kept_since_s, asking once its rows are live here,
    // until kept_deadline_ms.
    std::string kept_from;
    int64_t kept_since_s = 0;
    int64_t kept_deadline_ms = 0;
    bool kept_asked = false;

    // Private channels (hub/access): what its policies allow, the pushes that wait while a
    // check of them runs (in order), and the seam of a replay at join (hub/replay).
    Policies policies;
    bool checking = false;
    std::vector<std::unique_ptr<phoenix::Inbound>> waiting;
    ReplayConfig replay_request;
    std::vector<std::string> replayed_ids;                  // not delivered again live
    uint64_t replay_read_lsn = 0;                           // slot messages committed before it: not delivered
    struct Held {
        std::string id;
        uint64_t commit_lsn = 0;  // 0: not from the slot (a client's or the HTTP API's)
        FrameRef frame;
    };
    std::vector<Held> held;                                 // arrived during the replay
    int64_t held_bytes = 0;

    bool is_private() const;
    // A private member reads broadcasts / presence only when its policies say so.
    bool reads_broadcasts() const { return !is_private() || policies.broadcast_read.value_or(false); }
    bool reads_presence() const { return !is_private() || policies.presence_read.value_or(false); }
    // Its join's replay covered this message from the slot (commit_lsn 0: not from it):
    // it gave the id already, or the message was committed before the replay's read.
    bool covered_by_replay(const std::string& id, uint64_t commit_lsn) const {
        if (commit_lsn != 0 && commit_lsn < replay_read_lsn) return true;
        return !id.empty() && std::find(replayed_ids.begin(), replayed_ids.end(), id) != replayed_ids.end();
    }

    // Who the member is: its own token's claims, else its connection's. The one place
    // that answers it (authorization and resuming read this).
    inline const Claims& claims() const;
};

// A postgres_changes frame queued to a connection, perhaps not written yet: if the socket
// closes first, it goes back to the member's parked subscriptions (hub/resume).
struct QueuedChange {
    uint64_t seq = 0;     // its number in the connection's queue (SendQueue::pushed)
    uint64_t member = 0;  // Member::id
    uint64_t change = 0;  // its change's WriteLedger number (0: sent outside a delivery, e.g. a replay)
    ChangePos pos;
    FrameRef frame;
    uint32_t payload_size = 0;
};

struct Connection {
    uint64_t id = 0;
    void* transport = nullptr;  // the transport's handle (the lws wsi)
    phoenix::Vsn vsn = phoenix::Vsn::V1;
    Claims claims;
    std::string token;
    std::string headers_json = "{}";  // the upgrade request's --policy-headers, for request.headers
    SendQueue queue;
    std::vector<QueuedChange> queued_changes;  // oldest first; those written are pruned
    std::vector<std::unique_ptr<Member>> members;
    RateLimiter events;
    RateLimiter joins;
    int64_t last_rx_ms = 0;
    bool closing = false;
    bool dirty = false;  // queued frames wait for the end of the loop turn (the transport's)

    Member* member(std::string_view topic);
};

struct Channel {
    std::string key;                // topic::channel_key: a private channel is not its topic's public one
    std::string topic;              // as clients see it, "realtime:<name>"
    bool is_private = false;
    std::vector<Member*> members;   // joined
    std::vector<Member*> routing;   // joins answered once the cluster routes the channel here
    std::vector<Member*> replaying; // joins whose replay runs: their broadcasts are held (Member::held)
    bool interest = false;          // this node listens to the channel on the mesh
    bool routed = true;             // every peer delivers the channel's broadcasts here
    uint64_t broadcasts = 0;        // fanned out to its members here (the inspector's "busiest")
};

inline const Claims& Member::claims() const { return own_claims ? *own_claims : conn->claims; }
inline bool Member::is_private() const { return channel->is_private; }

inline Member* Connection::member(std::string_view topic) {
    for (auto& m : members)
        if (m->channel->topic == topic) return m.get();
    return nullptr;
}

}  // namespace rt
