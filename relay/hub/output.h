// What the hub sends to clients, and how: every frame goes through enqueue(), which
// keeps a connection's send queue within --max-send-queue-bytes (a client that does not
// read is disconnected, not given memory) and asks the transport for one write at the
// end of the loop turn. Replies, pushes and system messages are built here once.
#pragma once

#include <optional>
#include <string_view>

#include "relay/core/config.h"
#include "relay/core/metrics.h"
#include "relay/hub/model.h"
#include "relay/hub/ports.h"
#include "relay/protocol/frame.h"

namespace rt {

class Output {
public:
    Output(const Limits& limits, Transport& transport, Metrics& metrics)
        : limits_(limits), transport_(transport), metrics_(metrics) {}

    void enqueue(Connection& conn, FrameRef frame);
    // Whether queued_bytes for conn are within --max-send-queue-bytes; if not, conn is
    // closed as a slow client (also for frames held for it elsewhere, hub/replay).
    bool fits(Connection& conn, int64_t queued_bytes);
    // A server push. ref: Phoenix sends phx_close and phx_error with ref = join_ref
    // (realtime-js ignores them when that ref is not its current join); others have none.
    void push(Connection& conn, std::optional<std::string_view> join_ref, std::string_view topic,
              std::string_view event, std::string_view payload_json,
              std::optional<std::string_view> ref = std::nullopt);
    // A phx_reply to msg, or to the join a member is waiting with.
    void reply(Connection& conn, const phoenix::Inbound& msg, std::string_view status, std::string_view response_json);
    void reply(Connection& conn, std::optional<std::string_view> join_ref, std::optional<std::string_view> ref,
               std::string_view topic, std::string_view status, std::string_view response_json);
    void error_reply(Connection& conn, const phoenix::Inbound& msg, std::string_view reason);
    // A "system" event on the member's channel.
    void system(Member& m, std::string_view extension, std::string_view status, std::string_view message);
    // Closes conn once what is queued before has been sent.
    void close(Connection& conn, int code, std::string_view reason);

private:
    const Limits& limits_;
    Transport& transport_;
    Metrics& metrics_;
};

}  // namespace rt
