// Kept changes moving between nodes (issue 15): a client came back on this node while its
// subscriptions were parked on another that still beats. realtime.adopt moved the rows
// here (the plugin's SUBSCRIBED for them is where tagging switches), and that node kept
// what it was sent for them before the switch. The join waits: once its rows are live
// here (the SUBSCRIBED came, after the slot holder handed over what that node had not
// confirmed yet), it asks that node (KeptAsk), which answers with what it kept
// (KeptHandOver, Resume::hand_over) and forgets them. What waited for the reply (the
// holder's recovered rows, then live ones) and what was handed over are merged here, in
// commit order, each change once. Pure; the join flow (hub/join) drives it.
#pragma once

#include <vector>

#include "relay/core/events.h"

namespace rt::kept_transfer {

// handed (in commit order) goes into replay, which keeps commit order; a change both
// hold (by commit LSN and change index: the holder's copy of what the other node had
// kept but not confirmed) is kept once, replay's copy.
void merge(std::vector<ChangeEvent>& replay, std::vector<ChangeEvent> handed);

// The ids of asked that handed does not cover (the other node did not keep them: it
// restarted, or their window passed there).
std::vector<int64_t> not_handed(const std::vector<int64_t>& asked, const KeptHandOver& handed);

}  // namespace rt::kept_transfer
