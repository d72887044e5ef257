// The slot holder's inbox for what the mesh thread reports about the hand-over (peers'
// confirmations, returns, departures): queued under a lock by the mesh thread, applied to
// the HandOver by the slot stream thread, which owns it.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "cluster/holder_link.h"
#include "relay/slot/hand_over.h"

namespace rt {

class HandOverInbox : public cluster::HolderLink {
public:
    void confirmed(const std::string& node, const HandOverAck& ack) override { put({Kind::Confirmed, node, ack}); }
    void returned(const std::string& node) override { put({Kind::Returned, node, {}}); }
    void left(const std::string& node) override { put({Kind::Left, node, {}}); }

    // The slot stream: what arrived, applied in order.
    void drain(HandOver& hand_over, int64_t now_ms) {
        std::vector<Event> events;
        {
            std::lock_guard<std::mutex> lock(mu_);
            events.swap(events_);
        }
        for (const Event& e : events) {
            if (e.kind == Kind::Confirmed)
                hand_over.confirmed(e.node, e.ack, now_ms);
            else if (e.kind == Kind::Returned)
                hand_over.returned(e.node);
            else
                hand_over.left(e.node);
        }
    }

private:
    enum class Kind { Confirmed, Returned, Left };
    struct Event {
        Kind kind;
        std::string node;
        HandOverAck ack;
    };
    // Bounded: a holder that stopped streaming drains nothing, and its old news are void.
    static constexpr size_t kMaxEvents = 1 << 20;

    void put(Event e) {
        std::lock_guard<std::mutex> lock(mu_);
        if (events_.size() >= kMaxEvents) events_.clear();
        events_.push_back(std::move(e));
    }

    std::mutex mu_;
    std::vector<Event> events_;
};

}  // namespace rt
