// The loop's ClusterPort on the cluster mesh (broadcasts, channel interest, presence,
// inspectors' questions and answers), through the loop thread's own MeshSender. (The
// slot holder's end is slot/mesh_peers.h.)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cluster/mesh_sender.h"
#include "relay/hub/ports.h"

namespace rt {

// The cluster as the hub sees it (loop thread).
class MeshPort : public ClusterPort {
public:
    explicit MeshPort(std::unique_ptr<cluster::MeshSender> sender) : sender_(std::move(sender)) {}
    void publish_broadcast(const BroadcastMsg& msg) override { sender_->broadcast(msg); }
    void channel_interest(const std::string& topic, bool interested) override { sender_->interest(topic, interested); }
    void publish_presence(const PresenceDelta& delta) override { sender_->presence(delta, ++presence_seq_); }
    void send_presence_snapshot(const std::string& to, std::vector<PresenceDelta> entries) override;
    void ask_inspect(const InspectQuery& q) override { sender_->inspect_query(q); }
    void answer_inspect(const std::string& to, const InspectAnswer& a) override { sender_->inspect_answer(to, a); }
    void ask_kept(const std::string& node, const KeptAsk& ask) override { sender_->kept_ask(node, ask); }
    void hand_kept(const std::string& to, const KeptHandOver& handed) override { sender_->kept_hand_over(to, handed); }

private:
    std::unique_ptr<cluster::MeshSender> sender_;
    uint64_t presence_seq_ = 0;  // the loop numbers its presence deltas; a snapshot says up to which
};

}  // namespace rt
