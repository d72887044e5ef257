// The slot holder's documents on their way out, in commit order. Each document is split
// into one part per node it concerns; a node receives its parts in commit order, so a
// part that waits for a check holds back that node's later parts, and nobody else's. A
// SQL broadcast goes to every node: it waits for every part before it, and every part
// after it waits for it. Receivers drop anything not above the last position they
// delivered, so this order is what keeps deduplication by (commit_lsn, change_index)
// right while checks are in flight. The slot may be acknowledged only below the first
// document not wholly handed on (floor). Pure logic: the sink is the router's.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "relay/core/events.h"

namespace rt {

// Subscribers of one node that receive the same data (its JSON shared by every node).
struct PartGroup {
    std::vector<int64_t> ids;
    std::shared_ptr<const std::string> data;  // null for a SUBSCRIBED document
};

struct NodePart {
    std::string node;
    std::vector<PartGroup> groups;
    std::vector<BindingNotice> notices;
    int waiting = 0;  // checks this part still waits for
    bool sent = false;

    // Adds ids to the group with the same data (one push per member for equal data).
    void add(std::vector<int64_t> ids, const std::shared_ptr<const std::string>& data);
};

struct Outgoing {
    uint64_t seq = 0;
    ChangeEvent::Kind kind = ChangeEvent::Kind::Row;
    bool is_broadcast = false;
    ChangePos pos;
    int64_t received_us = 0;
    BroadcastMsg broadcast;  // is_broadcast
    bool broadcast_sent = false;
    std::vector<NodePart> parts;

    NodePart& part(const std::string& node);  // made on first use
    bool done() const;
};

class DeliverySink {
public:
    virtual void change(const std::string& node, ChangeEvent&& ev) = 0;
    virtual void broadcast(BroadcastMsg&& msg) = 0;

protected:
    ~DeliverySink() = default;
};

class DeliveryQueue {
public:
    // A new document at the end; stays valid until it is wholly sent.
    Outgoing& push();
    Outgoing* find(uint64_t seq);
    // Hands on, in order, every part and broadcast that may go now.
    void release(DeliverySink& sink);
    // The commit LSN of the first document not wholly handed on (0: none).
    uint64_t floor() const { return entries_.empty() ? 0 : entries_.front().pos.commit_lsn; }
    void clear() { entries_.clear(); }
    size_t size() const { return entries_.size(); }

private:
    std::deque<Outgoing> entries_;
    uint64_t next_seq_ = 1;
};

// The event a node receives for its part (payloads built with the node's ids).
ChangeEvent event_of(const Outgoing& doc, const NodePart& part);

}  // namespace rt
