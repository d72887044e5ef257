// The hub's output: bounded send queues, one write request per connection and turn.
#include "relay/hub/output.h"

#include "relay/core/log.h"
#include "relay/core/topic.h"
#include "relay/protocol/payloads.h"

namespace rt {

void Output::enqueue(Connection& conn, FrameRef frame) {
    if (conn.closing) return;
    if (!fits(conn, conn.queue.bytes() + static_cast<int64_t>(frame->size()))) return;
    bool was_empty = conn.queue.empty();
    conn.queue.push(std::move(frame));
    if (was_empty) transport_.request_write(conn);
}

bool Output::fits(Connection& conn, int64_t queued_bytes) {
    if (queued_bytes <= limits_.max_send_queue_bytes) return true;
    // A client that does not read loses its connection, not the server its memory.
    metrics_.slow_client_disconnects++;
    metrics_.dropped_messages += conn.queue.frames() + 1;
    LOG_INFO("closing connection %llu: send queue over %lld bytes (slow client)",
             static_cast<unsigned long long>(conn.id), static_cast<long long>(limits_.max_send_queue_bytes));
    conn.closing = true;
    conn.queue.clear();
    transport_.close(conn, 1008, "send queue full: the client reads too slowly");
    return false;
}

void Output::push(Connection& conn, std::optional<std::string_view> join_ref, std::string_view topic,
                  std::string_view event, std::string_view payload_json, std::optional<std::string_view> ref) {
    std::string buf = frame_buffer(payload_json.size() + topic.size() + event.size() + 48);
    phoenix::encode(buf, conn.vsn, join_ref, ref, topic, event, payload_json);
    enqueue(conn, make_frame(std::move(buf), false));
}

void Output::reply(Connection& conn, const phoenix::Inbound& msg, std::string_view status,
                   std::string_view response_json) {
    std::optional<std::string_view> join_ref, ref;
    if (msg.join_ref) join_ref = *msg.join_ref;
    if (msg.ref) ref = *msg.ref;
    reply(conn, join_ref, ref, msg.topic, status, response_json);
}

void Output::reply(Connection& conn, std::optional<std::string_view> join_ref, std::optional<std::string_view> ref,
                   std::string_view topic, std::string_view status, std::string_view response_json) {
    std::string payload = payloads::reply(status, response_json);
    std::string buf = frame_buffer(payload.size() + topic.size() + 64);
    phoenix::encode(buf, conn.vsn, join_ref, ref, topic, "phx_reply", payload);
    enqueue(conn, make_frame(std::move(buf), false));
}

void Output::error_reply(Connection& conn, const phoenix::Inbound& msg, std::string_view reason) {
    reply(conn, msg, "error", payloads::reason(reason));
}

void Output::system(Member& m, std::string_view extension, std::string_view status, std::string_view message) {
    push(*m.conn, m.join_ref, m.channel->topic, "system",
         payloads::system(extension, status, message, topic::sub_topic(m.channel->topic)));
}

void Output::close(Connection& conn, int code, std::string_view reason) { transport_.close(conn, code, reason); }

}  // namespace rt
