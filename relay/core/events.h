// Plain messages exchanged between the loop thread and the other threads (database,
// replication, cluster mesh). Each is self-contained: it owns all of its data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rt {

// Position of a decoded change in the commit order: (commit LSN, index in the txn).
struct ChangePos {
    uint64_t commit_lsn = 0;
    uint32_t change_index = 0;
    bool operator<=(const ChangePos& o) const {
        return commit_lsn < o.commit_lsn || (commit_lsn == o.commit_lsn && change_index <= o.change_index);
    }
    bool valid() const { return commit_lsn != 0; }
};

// A user broadcast, whatever its origin (client, HTTP, SQL, another node).
struct BroadcastMsg {
    std::string topic;         // full topic, "realtime:<name>"
    std::string event;         // the user's event name
    std::string payload;       // JSON text, or raw bytes when !json_payload
    bool json_payload = true;
    bool binary_origin = false;  // came as binary kind 3: vsn 2.0.0 members get kind 4
    std::string meta_json;     // {"id":"..."} for SQL and HTTP messages, else empty
    std::string id;            // realtime.messages' id of a message from the database, else empty
    bool is_private = false;   // for the private channel of topic (topic::channel_key)
    ChangePos pos;             // set for broadcasts read from the slot
    int64_t sent_ms = 0;       // the sending node's wall clock when it went to the mesh; 0: local
};

// What a member of a private channel may do, as its user's policies on realtime.messages
// say (realtime.authorize, design 3.6); nullopt: not checked (yet).
struct Policies {
    std::optional<bool> broadcast_read;
    std::optional<bool> presence_read;
    std::optional<bool> broadcast_write;
    std::optional<bool> presence_write;
};

// One realtime.authorize call: which checks, for whom, on which topic.
struct AccessCheck {
    std::string topic;               // the channel's name, without "realtime:"
    std::string claims_json;
    std::string headers_json = "{}";
    bool read = true;
    bool write = false;
    bool presence = true;            // check the presence extension too
};

// Its answer. A check that failed has no policies: why is in failure (Policy: it raised,
// with Postgres' SQLSTATE and message, e.g. 23514 for a missing partition).
struct AccessResult {
    enum class Failure : uint8_t { None, Policy, Timeout, Unreachable, Failed };
    uint64_t ticket = 0;
    Policies policies;
    Failure failure = Failure::None;
    std::string error_code;
    std::string error_message;
};

// realtime.replay for a join with config.broadcast.replay.
struct ReplayQuery {
    std::string topic;  // the channel's name, without "realtime:"
    int64_t since = 0;  // ms since the epoch
    int limit = 25;     // 1..25
};

struct ReplayRow {
    std::string id;
    std::string event;
    std::string payload;  // JSON text, or the bytes of a binary payload
    bool binary = false;
};

struct ReplayResult {
    enum class Failure : uint8_t { None, InvalidParams, Failed };
    uint64_t ticket = 0;
    Failure failure = Failure::None;
    std::string error;             // Postgres' message, for the log
    std::vector<ReplayRow> rows;   // oldest first
    // The WAL insert position read just before the replay's snapshot: every message
    // committed before it was visible to the replay (in its answer, or older than its
    // window), so the slot's copy of such a message is never delivered to the member.
    uint64_t read_lsn = 0;
};

// One postgres_changes binding as a client asked for it.
struct BindingSpec {
    std::string event = "*";   // *, INSERT, UPDATE or DELETE
    std::string schema = "public";
    std::string table;         // "*": every table of the schema (a whole-schema binding)
    std::string filter;        // empty: none
    std::vector<std::string> select;  // the select option: columns to send (empty: every readable one)

    bool whole_schema() const { return table == "*"; }
    bool operator==(const BindingSpec& o) const {
        return event == o.event && schema == o.schema && table == o.table && filter == o.filter && select == o.select;
    }
};

// The database's answer to a join's bindings. ok false: the join fails (error: the
// database timed out or cannot be reached). Otherwise each binding has its id, or 0 and
// the client's message for a binding the database refused.
struct SubscribeResult {
    uint64_t member_id = 0;
    bool ok = false;
    std::string error;
    std::vector<int64_t> ids;          // in the order of the request's bindings
    std::vector<std::string> errors;   // the same order, "" for a subscribed binding (or no entries: none failed)
    bool adopted = false;      // ids are another node's rows, moved here (AdoptAs)
    bool elsewhere = false;    // nothing made: the same subscriptions exist on a node that still beats
    // Subscribed anew because a dead node's rows for these bindings were made with other
    // claims than the join's (what was kept for them is not handed over): since when the
    // client missed changes (the dead node's last beat); 0: not so.
    int64_t claims_changed_since_s = 0;
    // Adopted rows a dead node had parked (realtime.adopt's lost_since): what it kept for
    // them in memory died with it, so the client missed changes since then; 0: not so.
    int64_t lost_since_s = 0;
    // Adopted rows another node parked and still beats (realtime.adopt's parked_on): that
    // node kept their changes since lost_since_s, and hands them over when asked.
    std::string parked_on;
};

// Who a join is, for adopting the subscriptions a dead node left (hub/resume): rows with
// the same bindings, role and sub, of a node without a registry beat for silent_for_ms,
// are moved to this node instead of new ones made. wait: if such rows are on a node that
// still beats, make nothing yet (SubscribeResult::elsewhere) so the join can try again.
struct AdoptAs {
    bool enabled = false;
    std::string role;
    std::string sub;
    std::string claims_json;  // only rows made with the same claims are moved
    int64_t silent_for_ms = 0;
    bool wait = true;
};

// A subscription row this node left behind (a crash), waiting to be adopted.
struct OrphanRow {
    int64_t id = 0;
    BindingSpec spec;
    std::string role;
    std::string sub;
    std::string claims_json;  // the row's claims (jsonb's text)
    int64_t created_s = 0;    // when the row was made (the crash time is not known)
    // When the crashed run parked it (parked_at, whole seconds; 0: its client was connected
    // then): what that run kept for it since then died with it.
    int64_t parked_s = 0;
};

// Recipients of one change that receive the same payload: the plain targets, or one
// column view (and the candidates of a check that passed it).
struct ChangeGroup {
    std::vector<int64_t> ids;  // this node's subscription ids
    std::string payload;       // Row: {"ids":[...],"data":{...}}; Subscribed: empty
};

// What the slot holder tells one binding besides changes: a system error for it
// (a check that could not be made, or one that raised for its user). ended: the plugin
// can no longer serve it (the document's "failed"): no more deliveries, its row goes.
struct BindingNotice {
    int64_t id = 0;
    std::string message;
    bool ended = false;
};

// A change document for this node, ready for clients: what the slot holder decided this
// node's subscribers receive (decided once, on the holder).
struct ChangeEvent {
    // Recovered: a row the slot holder still kept for a subscription's previous node, for
    // the node it moved to (a client resuming there; hub/resume). It comes before the
    // move's Subscribed, is older than what the node delivered, and is delivered anyway,
    // once per member.
    enum class Kind : uint8_t { Row, Subscribed, Recovered };
    Kind kind = Kind::Row;
    ChangePos pos;
    std::vector<ChangeGroup> groups;     // Subscribed: one group, the ids now live
    std::vector<BindingNotice> notices;  // Row only
    int64_t received_us = 0;             // monotonic arrival on this node

    bool empty() const { return groups.empty() && notices.empty(); }
};

// Kept changes moving between nodes (issue 15): a client came back on another node while
// its subscriptions were parked here (their rows parked_at, realtime.adopt moved them).
// The adopting node asks once the rows are live there (their SUBSCRIBED came: the slot
// holder had handed it what this node had not confirmed yet); this node answers with
// what it kept for them and forgets them (hub/kept_transfer).
struct KeptAsk {
    uint64_t id = 0;                     // the asker's (its member), echoed by the answer
    std::vector<int64_t> subscriptions;  // the moved ids
};

struct KeptHandOver {
    uint64_t id = 0;
    std::vector<int64_t> handed;   // the asked ids this node had parked (the others it did not keep)
    int64_t missed_since_s = 0;    // some of them missed more than they kept, since then (0: none)
    uint8_t missed_why = 0;        // ... why (the hub's Member::Missed)
    std::vector<ChangeEvent> changes;  // Recovered, in commit order, each with its moved ids, marked
};

// Where a change sent by the slot holder to another node stands in their hand-over
// (issue 14): the holder numbers what it sends each node on its stream (a new id each
// time it starts streaming the slot), keeps what the node has not confirmed, and tells it
// the oldest number it still has (base) and whether it dropped some unconfirmed (lossy).
struct HandOverTag {
    uint64_t stream = 0;
    uint64_t seq = 0;   // 0 in a base notice (no change)
    uint64_t base = 0;
    bool lossy = false;
};

// A node's confirmation of a holder's stream: everything up to `through` was processed;
// resend: it saw a gap and wants what follows.
struct HandOverAck {
    uint64_t stream = 0;
    uint64_t through = 0;   // confirmed: the node's sockets took everything up to it (hub/write_ledger)
    bool resend = false;
    uint64_t received = 0;  // handed to the node's loop up to it (the holder resends only past it)
};

// ev reduced to one group (kept for one member or one orphan).
inline ChangeEvent with_group(const ChangeEvent& ev, ChangeGroup group) {
    ChangeEvent one;
    one.kind = ev.kind;
    one.pos = ev.pos;
    one.received_us = ev.received_us;
    one.groups.push_back(std::move(group));
    return one;
}

// One presence entry, owned by one connection's membership of one channel on some node.
struct PresenceEntry {
    std::string node;       // "" for entries of this relay
    uint64_t owner = 0;     // membership id on the owning node
    std::string key;
    std::string phx_ref;
    std::string phx_ref_prev;
    std::string meta_json;  // the tracked JSON object as the client sent it
};

// A change to presence owned by some node, for replication.
struct PresenceDelta {
    bool join = true;          // false: the entry of (node, owner) leaves
    std::string topic;
    PresenceEntry entry;
};

}  // namespace rt
