// A producer thread's way into the mesh (the loop, the slot stream): one inproc PUSH
// socket to the mesh thread, used by one thread only. Sends never block: a saturated
// mesh loses the message (counted), never the caller's time. Routing keys and encodings
// are the mesh's own (wire.h); callers hand over typed messages.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cluster/wire.h"
#include "cluster/zmq_fwd.h"
#include "relay/core/events.h"
#include "relay/core/metrics.h"

namespace rt::cluster {

class MeshSender {
public:
    MeshSender(zmq::context_t& ctx, const std::string& endpoint, Metrics& metrics);
    ~MeshSender();

    // False (and counted) when the mesh is saturated.
    bool broadcast(const BroadcastMsg& msg);                       // to the nodes with members of its channel
    bool change(const std::string& node, const HandOverTag& tag, const ChangeEvent& ev);  // to one node
    bool base_notice(const std::string& node, const HandOverTag& tag);                    // to one node
    bool presence(const PresenceDelta& delta, uint64_t seq);       // to every node; seq stamped by the loop
    bool snapshot(const std::string& to, const PresenceSnapshot& s);
    bool inspect_query(const InspectQuery& q);                          // to every node
    bool inspect_answer(const std::string& to, const InspectAnswer& a);
    bool kept_ask(const std::string& to, const KeptAsk& ask);            // kept changes of moved subscriptions
    bool kept_hand_over(const std::string& to, const KeptHandOver& handed);
    // This node starts (true) or stops listening to topic's broadcasts. Never lost: blocks
    // if the mesh thread is that far behind.
    void interest(const std::string& topic, bool on);

private:
    bool publish(const std::string& routing, MsgType type, std::string body, uint64_t presence_seq = 0);

    std::unique_ptr<zmq::socket_t> push_;
    Metrics& metrics_;
};

}  // namespace rt::cluster
