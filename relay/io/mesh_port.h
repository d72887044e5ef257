// The relay's two ends of the cluster mesh, each on its own MeshSender (one per thread):
// the loop's ClusterPort (broadcasts, channel interest, presence) and the slot holder's
// SlotPeers (changes and SQL broadcasts, in commit order).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cluster/mesh_sender.h"
#include "relay/hub/ports.h"
#include "relay/slot/router.h"

namespace rt {

// The cluster as the hub sees it (loop thread).
class MeshPort : public ClusterPort {
public:
    explicit MeshPort(std::unique_ptr<cluster::MeshSender> sender) : sender_(std::move(sender)) {}
    void publish_broadcast(const BroadcastMsg& msg) override { sender_->broadcast(msg); }
    void channel_interest(const std::string& topic, bool interested) override { sender_->interest(topic, interested); }
    void publish_presence(const PresenceDelta& delta) override { sender_->presence(delta, ++presence_seq_); }
    void send_presence_snapshot(const std::string& to, std::vector<PresenceDelta> entries) override;

private:
    std::unique_ptr<cluster::MeshSender> sender_;
    uint64_t presence_seq_ = 0;  // the loop numbers its presence deltas; a snapshot says up to which
};

// The peers as the slot holder sees them (slot stream thread).
class MeshSlotPeers : public SlotPeers {
public:
    explicit MeshSlotPeers(std::unique_ptr<cluster::MeshSender> sender) : sender_(std::move(sender)) {}
    bool change(const std::string& node, const ChangeEvent& ev) override { return sender_->change(node, ev); }
    void broadcast(const BroadcastMsg& msg) override { sender_->broadcast(msg); }

private:
    std::unique_ptr<cluster::MeshSender> sender_;
};

}  // namespace rt
