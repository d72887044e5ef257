// The acknowledged hand-over of changes to other nodes, on the slot holder (issue 14).
//
// The holder numbers what it sends each node (per node, on its stream: a new id each
// time it starts streaming the slot) and keeps every change until that node confirms its
// clients' sockets took it (HandOverAck: everything through a number). What is kept is resent when
// the node returns (up again, or restarted with a new incarnation), when it asks (it saw
// a gap), and when the node has not said it received it within resend_after_ms while it
// is up (a node confirms what its clients' sockets took, which a slow client holds back,
// and says what it received besides). The
// slot is acknowledged to Postgres only below the oldest change kept (floor()).
//
// Each node's backlog is bounded: once its oldest change has waited max_age_ms, or it
// holds more than max_bytes, the node is declared gone: its backlog is dropped (the slot
// no longer waits for it), nothing more is kept for it until it confirms again, and the
// holder removes its subscriptions. What it sends such a node says so (lossy), so the node
// tells its clients to rejoin instead of leaving a hole unnoticed.
//
// The backlog is addressable per node and per subscription id (unconfirmed(),
// for_subscription()), for resuming a client elsewhere (issue 15).
//
// Pure logic: the clock is the caller's; the slot stream thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "relay/core/events.h"

namespace rt {

struct HandOverBounds {
    int64_t max_bytes = 64 << 20;    // per node
    int64_t max_age_ms = 12000;      // the oldest unconfirmed change of a node waited this long: gone
    int64_t resend_after_ms = 1000;  // unconfirmed this long since it was sent (node up): sent again
    int64_t resend_gap_ms = 250;     // a node's requests for a resend are honoured at most this often
};

class HandOver {
public:
    struct Entry {
        uint64_t seq = 0;
        int64_t added_ms = 0;
        int64_t sent_ms = 0;
        int64_t bytes = 0;
        ChangeEvent ev;
    };
    // A message to send a node: a change (ev), or a base notice (ev null).
    struct Send {
        std::string node;
        HandOverTag tag;
        const ChangeEvent* ev = nullptr;
    };
    struct Out {
        std::vector<Send> sends;          // valid until the next call
        std::vector<std::string> gone;    // nodes declared gone now
        uint64_t dropped = 0;             // changes dropped unconfirmed now
    };

    explicit HandOver(HandOverBounds bounds = {}) : bounds_(bounds) {}

    // A new stream of the slot (a new id): whatever was kept is void, since the slot
    // resumes from a position below all of it.
    void restart(uint64_t stream);
    uint64_t stream() const { return stream_; }

    // ev for node, kept until node confirms it: the message to send now (its ev valid
    // until the next call).
    Send add(const std::string& node, ChangeEvent ev, int64_t now_ms);
    // node processed stream up to through (resend: it saw a gap).
    void confirmed(const std::string& node, const HandOverAck& ack, int64_t now_ms);
    void returned(const std::string& node);  // up again, or a new incarnation: resend now
    void left(const std::string& node);      // down: no resends until it returns
    // Resends that are due, and nodes whose backlog went past its bounds.
    void tick(int64_t now_ms, Out& out);

    // The lowest commit LSN kept for any node (0: nothing kept).
    uint64_t floor() const;
    int64_t bytes() const { return bytes_; }
    size_t size() const;

    // What node has not confirmed, oldest first (null: nothing known of node).
    const std::deque<Entry>* unconfirmed(const std::string& node) const;
    // The kept changes of node that carry subscription id, after position `after`.
    std::vector<const Entry*> for_subscription(const std::string& node, int64_t id, const ChangePos& after) const;
    // Subscriptions ids moved to node `to`: the rows still kept for them on other nodes, as
    // Recovered events with only those ids (marked "recovered"), in commit order. Looked up
    // by id (Node::places), not by reading every kept group's ids, which name every
    // client's subscription on that node.
    std::vector<ChangeEvent> recovered_for(const std::string& to, const std::vector<int64_t>& ids);

private:
    struct Node {
        std::deque<Entry> entries;
        uint64_t next_seq = 1;
        uint64_t confirmed = 0;  // highest number the node confirmed (its sockets took it)
        uint64_t received = 0;   // highest number the node said it received
        uint64_t dropped = 0;    // highest number dropped unconfirmed
        int64_t bytes = 0;
        bool up = true;
        bool gone = false;
        bool resend_wanted = false;
        int64_t last_resend_ms = INT64_MIN / 2;
        // Where each subscription id's kept rows are, for recovered_for: built at its first
        // look, extended with what was added since at each next one (index()).
        struct Place {
            uint64_t seq;
            uint32_t group;
        };
        std::unordered_map<int64_t, std::vector<Place>> places;
        uint64_t indexed_from = 0;  // the numbers places covers: indexed_from..indexed_to
        uint64_t indexed_to = 0;
    };

    HandOverTag tag(const Node& n, uint64_t seq) const;
    void drop_all(Node& n);
    void resend(const std::string& name, Node& n, int64_t now_ms, Out& out);
    bool past_bounds(const Node& n, int64_t now_ms) const;
    static const Entry* oldest_unreceived(const Node& n);
    static void index(Node& n);

    HandOverBounds bounds_;
    uint64_t stream_ = 0;
    ChangeEvent unkept_;  // the last change for a gone node, sent but not kept
    std::unordered_map<std::string, Node> nodes_;
    int64_t bytes_ = 0;
};

}  // namespace rt
