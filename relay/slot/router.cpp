// Routing plugin documents to this node's loop and to peers, checks first.
#include "relay/slot/router.h"

#include "relay/protocol/errors.h"
#include "relay/slot/check_pool.h"

namespace rt {

void SlotRouter::route(PluginDoc&& doc, int64_t now_us) {
    now_ms_ = now_us / 1000;
    Outgoing& out = queue_.push();
    out.pos = doc.pos;
    out.received_us = now_us;
    if (doc.type == PluginDoc::Type::Broadcast) {
        out.is_broadcast = true;
        out.broadcast = std::move(doc.broadcast);
    } else if (doc.type == PluginDoc::Type::Subscribed) {
        out.kind = ChangeEvent::Kind::Subscribed;
        for (auto& [node, ids] : doc.targets) out.part(node).add(std::move(ids), nullptr);
    } else {
        route_row(doc, out);
    }
    release();
}

void SlotRouter::route_row(PluginDoc& doc, Outgoing& out) {
    const uint64_t seq = out.seq;
    for (CheckedViews& views : plan_row(doc, out)) {
        uint64_t ticket = next_ticket_++;
        CheckKey key = check_key(doc, views.check);
        std::vector<int64_t> candidates = views.candidates();
        if (!checks_) {  // nothing can check it: nobody gets it, everybody is told
            CheckVerdict none{ticket, {}, {}};
            for (int64_t id : candidates) none.errors.emplace_back(id, errors::kCheckUnreachable);
            apply_verdict(none, views, out, told_);
            continue;
        }
        waiting_.emplace(ticket, Waiting{seq, std::move(views)});
        if (auto call = batcher_.submit(key, ticket, doc.check_row, std::move(candidates))) start(std::move(*call));
    }
}

void SlotRouter::start(CheckCall&& call) {
    metrics_.rls_check_calls++;
    checks_->start(std::move(call));
}

int SlotRouter::wake_fd() const { return checks_ ? checks_->wake_fd() : -1; }

void SlotRouter::service() {
    if (!checks_ || !checks_->ready()) return;
    auto done = checks_->take_done();
    for (auto& [call, outcome] : done) finish(call, outcome);
    if (!done.empty()) release();
}

void SlotRouter::finish(uint64_t call, const CheckOutcome& outcome) {
    if (!outcome.ok) metrics_.rls_check_failures++;
    std::optional<CheckCall> next;
    for (const CheckVerdict& v : batcher_.finished(call, outcome, next)) {
        auto it = waiting_.find(v.ticket);
        if (it == waiting_.end()) continue;
        if (Outgoing* out = queue_.find(it->second.seq)) apply_verdict(v, it->second.views, *out, told_);
        waiting_.erase(it);
    }
    if (next) start(std::move(*next));
}

void SlotRouter::restart() {
    queue_.clear();
    waiting_.clear();
    batcher_.reset();
    ack_.hold_below(0);
}

void SlotRouter::release() {
    queue_.release(*this);
    ack_.hold_below(queue_.floor());
    metrics_.rls_check_waiting.store(static_cast<int64_t>(queue_.size()));
    report_backlog();
}

void SlotRouter::change(const std::string& node, ChangeEvent&& ev) {
    if (ev.kind == ChangeEvent::Kind::Subscribed) recover(node, ev);
    deliver(node, std::move(ev));
}

// Subscriptions that moved to node (a client resuming there after its node died;
// hub/resume): what the hand-over still keeps for them on the node they left, the changes
// before the move, goes to node first.
void SlotRouter::recover(const std::string& node, const ChangeEvent& subscribed) {
    std::vector<int64_t> ids;
    for (const ChangeGroup& g : subscribed.groups) ids.insert(ids.end(), g.ids.begin(), g.ids.end());
    std::vector<ChangeEvent> found = ack_.hand_over().recovered_for(node, ids);
    metrics_.resume_handed_over += found.size();
    for (ChangeEvent& r : found) deliver(node, std::move(r));
}

void SlotRouter::deliver(const std::string& node, ChangeEvent&& ev) {
    if (node == node_id_) {
        ack_.handed_over();
        loop_.slot_change(std::move(ev), ack_);
        return;
    }
    if (!peers_) {
        metrics_.dropped_messages++;  // no cluster: nobody to hand it to
        return;
    }
    send(ack_.hand_over().add(node, std::move(ev), now_ms_));
}

void SlotRouter::send(const HandOver::Send& s) {
    bool sent = s.ev ? peers_->change(s.node, s.tag, *s.ev) : (peers_->base_notice(s.node, s.tag), true);
    if (!sent) metrics_.mesh_dropped++;  // kept: resent when unconfirmed
}

void SlotRouter::hand_over_due(int64_t now_ms, std::vector<std::string>& gone) {
    now_ms_ = now_ms;
    if (!peers_) return;
    HandOver::Out out;
    ack_.hand_over().tick(now_ms, out);
    for (const HandOver::Send& s : out.sends) {
        if (s.ev) metrics_.handover_resent++;
        send(s);
    }
    metrics_.handover_dropped += out.dropped;
    metrics_.handover_gone += out.gone.size();
    for (std::string& node : out.gone) gone.push_back(std::move(node));
    report_backlog();
}

void SlotRouter::report_backlog() {
    metrics_.handover_backlog_bytes.store(ack_.hand_over().bytes());
    metrics_.handover_backlog_changes.store(static_cast<int64_t>(ack_.hand_over().size()));
}

void SlotRouter::broadcast(BroadcastMsg&& msg) {
    ack_.handed_over();
    if (peers_) peers_->broadcast(msg);
    loop_.slot_broadcast(std::move(msg), ack_);
}

}  // namespace rt
