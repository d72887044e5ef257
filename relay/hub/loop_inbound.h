// The loop's inbound port on its mailbox: each message becomes a task that runs on the
// loop thread against the Hub (one wake-up of the loop per burst, see core/mailbox.h).
#pragma once

#include "relay/core/mailbox.h"
#include "relay/hub/hub.h"
#include "relay/hub/inbound.h"

namespace rt {

class MailboxInbound : public LoopInbound {
public:
    explicit MailboxInbound(Mailbox<Hub>& mailbox) : mailbox_(mailbox) {}

    void subscribe_result(SubscribeResult r) override;
    void bindings_ended(std::vector<BindingNotice> notices) override;
    void access_result(AccessResult r) override;
    void replay_result(ReplayResult r) override;
    void slot_change(ChangeEvent ev, SlotProgress& progress) override;
    void slot_broadcast(BroadcastMsg msg, SlotProgress& progress) override;
    void peer_change(ChangeEvent ev, SlotProgress& progress) override;
    void peer_broadcast(BroadcastMsg msg) override;
    void peer_presence(std::string node, PresenceDelta delta) override;
    void peer_presence_snapshot(std::string node, std::vector<PresenceDelta> entries) override;
    void peer_presence_gone(std::string node) override;
    void presence_snapshot_wanted(std::string node) override;
    void channel_routed(std::string key) override;
    void inspect_query(std::string node, InspectQuery q) override;
    void inspect_answer(std::string node, InspectAnswer a) override;
    void kept_asked(std::string node, KeptAsk ask) override;
    void kept_handed(std::string node, KeptHandOver handed) override;
    void subscriptions_present(std::unordered_set<int64_t> ids) override;
    void jwks_loaded(std::shared_ptr<const Jwks> keys) override;

private:
    Mailbox<Hub>& mailbox_;
};

}  // namespace rt
