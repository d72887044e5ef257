// The highest slot position this node delivered. Changes and SQL broadcasts come in the
// slot's commit order (from this node's slot stream or from the holder through the
// mesh), so anything not above the last one delivered is a replay: a new holder
// streaming again from the confirmed position, or a reconnect. Pure logic.
#pragma once

#include "relay/core/events.h"

namespace rt {

class ReplayGuard {
public:
    // True (and remembered) when pos is above everything delivered so far.
    bool fresh(const ChangePos& pos) {
        if (pos <= delivered_) return false;
        delivered_ = pos;
        return true;
    }

private:
    ChangePos delivered_;
};

}  // namespace rt
