// The slot holder's SlotPeers on the cluster mesh, through the slot stream thread's own
// MeshSender: changes and SQL broadcasts go through one sender, so every node receives
// them in commit order. (The loop's end of the mesh is io/mesh_port.h.)
#pragma once

#include <memory>
#include <string>

#include "cluster/mesh_sender.h"
#include "relay/slot/router.h"

namespace rt {

// The peers as the slot holder sees them (slot stream thread).
class MeshSlotPeers : public SlotPeers {
public:
    explicit MeshSlotPeers(std::unique_ptr<cluster::MeshSender> sender) : sender_(std::move(sender)) {}
    bool change(const std::string& node, const HandOverTag& tag, const ChangeEvent& ev) override {
        return sender_->change(node, tag, ev);
    }
    void base_notice(const std::string& node, const HandOverTag& tag) override { sender_->base_notice(node, tag); }
    void broadcast(const BroadcastMsg& msg) override { sender_->broadcast(msg); }

private:
    std::unique_ptr<cluster::MeshSender> sender_;
};

}  // namespace rt
