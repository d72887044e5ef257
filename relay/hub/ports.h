// What the hub (the loop thread's protocol logic) needs from the outside world. The
// relay wires these to libwebsockets, the database thread and the cluster mesh; unit
// tests wire them to recorders.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "relay/core/events.h"

namespace rt {

struct Connection;

class Transport {
public:
    virtual ~Transport() = default;
    // Frames were queued on conn: write them when the socket allows.
    virtual void request_write(Connection& conn) = 0;
    // Close conn with a WebSocket close code once what is queued before has been sent.
    virtual void close(Connection& conn, int code, std::string_view reason) = 0;
};

class DbPort {
public:
    virtual ~DbPort() = default;
    virtual bool available() const = 0;
    // Inserts one subscription row per binding in one transaction; answers through
    // Hub::on_subscribe_result with member_id.
    virtual void subscribe(uint64_t member_id, std::vector<BindingSpec> bindings, std::string claims_json) = 0;
    virtual void unsubscribe(std::vector<int64_t> ids) = 0;
};

class ClusterPort {
public:
    virtual ~ClusterPort() = default;
    virtual void publish_broadcast(const BroadcastMsg& msg) = 0;
    // This node gained its first (true) or lost its last (false) member of topic.
    virtual void channel_interest(const std::string& topic, bool interested) = 0;
    virtual void publish_presence(const PresenceDelta& delta) = 0;
};

}  // namespace rt
