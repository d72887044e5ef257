// Routing plugin documents to this node's loop and to peers.
#include "relay/slot/router.h"

#include "relay/protocol/payloads.h"

namespace rt {

void SlotRouter::route(PluginDoc&& doc, int64_t now_us) {
    if (doc.type == PluginDoc::Type::Broadcast) {
        ack_.handed_over();
        if (peers_) peers_->broadcast(doc.broadcast);
        loop_.slot_broadcast(std::move(doc.broadcast), ack_);
        return;
    }
    for (auto& [node, ids] : doc.targets) {
        ChangeEvent ev;
        ev.kind = doc.type == PluginDoc::Type::Row ? ChangeEvent::Kind::Row : ChangeEvent::Kind::Subscribed;
        ev.pos = doc.pos;
        ev.received_us = now_us;
        if (ev.kind == ChangeEvent::Kind::Row) ev.payload = payloads::postgres_changes(ids, doc.data_json);
        ev.ids = std::move(ids);
        to_node(node, std::move(ev));
    }
}

void SlotRouter::to_node(const std::string& node, ChangeEvent&& ev) {
    if (node == node_id_) {
        ack_.handed_over();
        loop_.slot_change(std::move(ev), ack_);
        return;
    }
    if (!peers_ || !peers_->change(node, ev)) metrics_.dropped_messages++;
}

}  // namespace rt
