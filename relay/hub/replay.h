// The replay of a private join (config.broadcast.replay: {since, limit}, design 3.6),
// without a seam: the member's live broadcasts are held (Channels::hold) from before
// realtime.replay runs. Once it answers, the member is admitted and gets the stored
// messages, oldest first, each with meta {"replayed": true, "id"}, then the held ones
// committed after the replay's read, then live ones. A message the member did not hold
// was streamed before the call, and realtime.replay reads only once such commits are
// visible: it is in the answer, or older than its window. The read's WAL position
// (ReplayResult::read_lsn, taken before its snapshot) stays on the member: a message
// from the slot committed before it, held or arriving late (a slot behind the
// database), was visible to the replay and is not delivered; nor is a replayed id
// again. Messages not from the slot (clients', the HTTP API's) are live: always
// delivered. (docs/architecture.md, "Replay", has the argument and its residual case.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "relay/core/metrics.h"
#include "relay/hub/channels.h"
#include "relay/hub/model.h"
#include "relay/hub/output.h"
#include "relay/hub/ports.h"

namespace rt {

class Replay {
public:
    Replay(Channels& channels, Output& out, Metrics& metrics, AccessPort* port)
        : channels_(channels), out_(out), metrics_(metrics), port_(port) {}

    // m (routed, not yet admitted) starts holding its broadcasts; the query is asked.
    void start(Member& m);
    // The member ticket's query was for (it stops holding), or null if it left.
    Member* take(uint64_t ticket);
    void forget(const Member& m);

    // To m, just admitted: the replayed messages, then the held ones it did not get.
    void deliver(Member& m, const ReplayResult& r);

    // The join refusal for a failed query.
    static std::string refusal(const ReplayResult& r);

private:
    Channels& channels_;
    Output& out_;
    Metrics& metrics_;
    AccessPort* port_;
    uint64_t next_ticket_ = 1;
    std::unordered_map<uint64_t, Member*> pending_;
};

}  // namespace rt
