// Each inbound message as a mailbox task for the Hub.
#include "relay/hub/loop_inbound.h"

namespace rt {

void MailboxInbound::subscribe_result(SubscribeResult r) {
    mailbox_.post([r = std::move(r)](Hub& hub) mutable { hub.on_subscribe_result(std::move(r)); });
}

void MailboxInbound::bindings_ended(std::vector<BindingNotice> notices) {
    mailbox_.post([n = std::move(notices)](Hub& hub) { hub.end_bindings(n); });
}

void MailboxInbound::access_result(AccessResult r) {
    mailbox_.post([r = std::move(r)](Hub& hub) { hub.on_access_result(r); });
}

void MailboxInbound::replay_result(ReplayResult r) {
    mailbox_.post([r = std::move(r)](Hub& hub) mutable { hub.on_replay_result(std::move(r)); });
}

// The loop reports back to the slot stream (or the mesh) what its sockets took of it.
void MailboxInbound::slot_change(ChangeEvent ev, SlotProgress& progress) {
    mailbox_.post([&progress, ev = std::move(ev)](Hub& hub) {
        hub.deliver_change(ev);
        hub.report_when_written(progress, ev.pos.commit_lsn);
    });
}

void MailboxInbound::slot_broadcast(BroadcastMsg msg, SlotProgress& progress) {
    mailbox_.post([&progress, msg = std::move(msg)](Hub& hub) {
        hub.deliver_broadcast(msg);
        hub.report_when_written(progress, msg.pos.commit_lsn);
    });
}

void MailboxInbound::peer_change(ChangeEvent ev, SlotProgress& progress) {
    mailbox_.post([&progress, ev = std::move(ev)](Hub& hub) {
        hub.deliver_change(ev);
        hub.report_when_written(progress, ev.pos.commit_lsn);
    });
}

void MailboxInbound::peer_broadcast(BroadcastMsg msg) {
    mailbox_.post([msg = std::move(msg)](Hub& hub) { hub.deliver_broadcast(msg); });
}

void MailboxInbound::peer_presence(std::string node, PresenceDelta delta) {
    mailbox_.post([node = std::move(node), delta = std::move(delta)](Hub& hub) { hub.apply_remote_presence(node, delta); });
}

void MailboxInbound::peer_presence_snapshot(std::string node, std::vector<PresenceDelta> entries) {
    mailbox_.post([node = std::move(node), entries = std::move(entries)](Hub& hub) {
        hub.replace_remote_presence(node, entries);
    });
}

void MailboxInbound::peer_presence_gone(std::string node) {
    mailbox_.post([node = std::move(node)](Hub& hub) { hub.remove_remote_presence(node); });
}

void MailboxInbound::presence_snapshot_wanted(std::string node) {
    mailbox_.post([node = std::move(node)](Hub& hub) { hub.send_presence_snapshot(node); });
}

void MailboxInbound::channel_routed(std::string key) {
    mailbox_.post([key = std::move(key)](Hub& hub) { hub.on_channel_routed(key); });
}

void MailboxInbound::subscriptions_present(std::unordered_set<int64_t> ids) {
    mailbox_.post([ids = std::move(ids)](Hub& hub) { hub.drop_lost_subscriptions(ids); });
}

void MailboxInbound::jwks_loaded(std::shared_ptr<const Jwks> keys) {
    mailbox_.post([keys = std::move(keys)](Hub& hub) { hub.set_jwks(keys); });
}

void MailboxInbound::inspect_query(std::string node, InspectQuery q) {
    mailbox_.post([node = std::move(node), q = std::move(q)](Hub& hub) { hub.answer_inspect(node, q); });
}

void MailboxInbound::kept_asked(std::string node, KeptAsk ask) {
    mailbox_.post([node = std::move(node), ask = std::move(ask)](Hub& hub) { hub.hand_kept(node, ask); });
}

void MailboxInbound::kept_handed(std::string node, KeptHandOver handed) {
    mailbox_.post([node = std::move(node), handed = std::move(handed)](Hub& hub) mutable {
        hub.on_kept_handed(node, std::move(handed));
    });
}

void MailboxInbound::inspect_answer(std::string node, InspectAnswer a) {
    mailbox_.post([node = std::move(node), a = std::move(a)](Hub& hub) mutable { hub.inspect_answered(node, std::move(a)); });
}

}  // namespace rt
