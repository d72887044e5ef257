// MeshSender: typed messages onto the inproc PUSH socket of the calling thread.
#include "cluster/mesh_sender.h"

#include <zmq.hpp>

#include "relay/core/clock.h"
#include "relay/core/topic.h"

namespace rt::cluster {

MeshSender::MeshSender(zmq::context_t& ctx, const std::string& endpoint, Metrics& metrics)
    : push_(std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::push)), metrics_(metrics) {
    push_->set(zmq::sockopt::sndhwm, kHighWaterMark);
    push_->set(zmq::sockopt::linger, 0);
    push_->connect(endpoint);
}

MeshSender::~MeshSender() = default;

bool MeshSender::broadcast(const BroadcastMsg& msg) {
    BroadcastMsg stamped = msg;  // receivers drop it once older than --broadcast-max-age-ms
    stamped.sent_ms = wall_ms();
    return publish(routing_broadcast(topic::channel_key(msg.topic, msg.is_private)), MsgType::Broadcast,
                   encode(stamped));
}

bool MeshSender::change(const std::string& node, const HandOverTag& tag, const ChangeEvent& ev) {
    return publish(routing_node(node), MsgType::Change, encode_change(tag, ev));
}

bool MeshSender::base_notice(const std::string& node, const HandOverTag& tag) {
    return publish(routing_node(node), MsgType::HandOverBase, encode(tag));
}

bool MeshSender::presence(const PresenceDelta& delta, uint64_t seq) {
    return publish(routing_presence(), MsgType::PresenceDelta, encode(delta), seq);
}

bool MeshSender::snapshot(const std::string& to, const PresenceSnapshot& s) {
    return publish(routing_node(to), MsgType::Snapshot, encode(s));
}

bool MeshSender::inspect_query(const InspectQuery& q) {
    return publish(routing_inspect(), MsgType::InspectQuery, encode(q));
}

bool MeshSender::inspect_answer(const std::string& to, const InspectAnswer& a) {
    return publish(routing_node(to), MsgType::InspectAnswer, encode(a));
}

bool MeshSender::kept_ask(const std::string& to, const KeptAsk& ask) {
    return publish(routing_node(to), MsgType::KeptAsk, encode(ask));
}

bool MeshSender::kept_hand_over(const std::string& to, const KeptHandOver& handed) {
    return publish(routing_node(to), MsgType::KeptHandOver, encode(handed));
}

bool MeshSender::publish(const std::string& routing, MsgType type, std::string body, uint64_t presence_seq) {
    std::string kind = encode_kind(type, presence_seq);
    // Non-blocking: a saturated mesh loses the message (counted), never the caller's time.
    if (!push_->send(zmq::buffer(routing), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        metrics_.mesh_dropped++;
        return false;
    }
    push_->send(zmq::buffer(kind), zmq::send_flags::sndmore);
    zmq::message_t msg(body.data(), body.size());
    push_->send(msg, zmq::send_flags::none);
    return true;
}

void MeshSender::interest(const std::string& topic, bool on) {
    // Control messages have an empty routing frame. They must not be lost: block.
    push_->send(zmq::str_buffer(""), zmq::send_flags::sndmore);
    push_->send(zmq::buffer(on ? "S" : "U", 1), zmq::send_flags::sndmore);
    push_->send(zmq::buffer(routing_broadcast(topic)), zmq::send_flags::none);
}

}  // namespace rt::cluster
