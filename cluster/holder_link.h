// What the mesh tells the slot holder about the hand-over of its changes (issue 14):
// peers' confirmations, and peers that return or leave. relay/slot implements it (its
// inbox, drained by the slot stream); the mesh thread calls it, and it never blocks.
#pragma once

#include <string>

#include "relay/core/events.h"

namespace rt::cluster {

class HolderLink {
public:
    virtual ~HolderLink() = default;
    virtual void confirmed(const std::string& node, const HandOverAck& ack) = 0;
    virtual void returned(const std::string& node) = 0;  // up again, or a new incarnation
    virtual void left(const std::string& node) = 0;      // down
};

}  // namespace rt::cluster
