// Owns: publisher connections. HttpPublisher POSTs messages on a pipelined keep-alive
// connection (nchan: one message per POST /pub/<channel>; phoenix: POST /api/broadcast
// with --http-batch messages, Bearer token). WsPublisher is a phoenix client joined to
// its channels that sends `broadcast` pushes (text, or binary kind 3 with --binary),
// optionally with acks. Each message carries its send timestamp (payload.h); failures
// come back to the PublishSink so that expected deliveries stay exact.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen/event_loop.h"
#include "bench/loadgen/run_context.h"

namespace lg {

class PublishSink {
public:
    virtual ~PublishSink() = default;
    virtual void on_published(int channel, int64_t ts_ns) = 0;
    // a message that will not be delivered (error reply, lost request)
    virtual void on_publish_failed(int channel, int64_t ts_ns, const std::string& why) = 0;
    virtual void on_publisher_error(const std::string& why) = 0;
};

class Publisher {
public:
    virtual ~Publisher() = default;
    virtual void start(int64_t now_ns) = 0;
    // Reconnects a publisher whose connection ended, once its back-off has passed.
    virtual void maintain(int64_t now_ns) = 0;
    // Connected (and, over WebSocket, joined to all its channels).
    virtual bool ready() const = 0;
    // Messages it can take right now.
    virtual int capacity() const = 0;
    // Sends up to n messages round-robin over its channels; returns how many it sent.
    virtual int publish(int n) = 0;
    virtual void abort() = 0;
};

std::unique_ptr<Publisher> make_publisher(EventLoop* loop, PublishSink* sink, const RunContext* ctx,
                                          int index, std::vector<int> channels);

}  // namespace lg
