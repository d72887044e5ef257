// Documents leaving the slot holder in commit order, per node.
#include "relay/slot/delivery_queue.h"

#include <algorithm>
#include <set>

#include "relay/protocol/payloads.h"

namespace rt {

void NodePart::add(std::vector<int64_t> ids, const std::shared_ptr<const std::string>& data) {
    if (ids.empty()) return;
    for (PartGroup& g : groups) {
        if (g.data == data || (g.data && data && *g.data == *data)) {
            g.ids.insert(g.ids.end(), ids.begin(), ids.end());
            return;
        }
    }
    groups.push_back({std::move(ids), data});
}

NodePart& Outgoing::part(const std::string& node) {
    for (NodePart& p : parts)
        if (p.node == node) return p;
    parts.push_back(NodePart{node, {}, {}, 0, false});
    return parts.back();
}

bool Outgoing::done() const {
    if (is_broadcast) return broadcast_sent;
    return std::all_of(parts.begin(), parts.end(), [](const NodePart& p) { return p.sent; });
}

Outgoing& DeliveryQueue::push() {
    entries_.emplace_back();
    entries_.back().seq = next_seq_++;
    return entries_.back();
}

Outgoing* DeliveryQueue::find(uint64_t seq) {
    if (entries_.empty() || seq < entries_.front().seq) return nullptr;
    uint64_t i = seq - entries_.front().seq;
    return i < entries_.size() ? &entries_[i] : nullptr;
}

void DeliveryQueue::release(DeliverySink& sink) {
    std::set<std::string> blocked;  // nodes with a part still waiting before this point
    for (Outgoing& e : entries_) {
        if (e.is_broadcast) {
            if (e.broadcast_sent) continue;
            if (!blocked.empty()) break;  // it waits for every part before it; the rest for it
            e.broadcast_sent = true;
            sink.broadcast(std::move(e.broadcast));
            continue;
        }
        for (NodePart& p : e.parts) {
            if (p.sent) continue;
            if (p.waiting > 0 || blocked.count(p.node)) {
                blocked.insert(p.node);
                continue;
            }
            p.sent = true;
            if (!p.groups.empty() || !p.notices.empty()) sink.change(p.node, event_of(e, p));
        }
    }
    while (!entries_.empty() && entries_.front().done()) entries_.pop_front();
}

ChangeEvent event_of(const Outgoing& doc, const NodePart& part) {
    ChangeEvent ev;
    ev.kind = doc.kind;
    ev.pos = doc.pos;
    ev.received_us = doc.received_us;
    ev.notices = part.notices;
    for (const PartGroup& g : part.groups) {
        ChangeGroup group;
        group.ids = g.ids;
        if (g.data) group.payload = payloads::postgres_changes(g.ids, *g.data);
        ev.groups.push_back(std::move(group));
    }
    return ev;
}

}  // namespace rt
