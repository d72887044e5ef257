// The receiving side of the hand-over of changes (issue 14; the holder's side is
// relay/slot/hand_over.h). Per stream of a slot holder, changes are handed to the loop in
// their numbered order only: a change after a gap is not delivered (the replay guard
// would then drop the missing one as old) but asked for again. The node confirms what the
// loop has processed and its clients' sockets took (the loop's report, hub/write_ledger),
// as soon as that advances, and keeps confirming while a stream is recent, so a holder
// that dropped what it kept for us can say so. What it received is said too (at most every
// kAckIntervalMs), so a slow client holding the confirmation back does not make the
// holder resend what we have.
//
// A stream this node knows nothing of (it just started, or a new holder) starts at the
// holder's base, the oldest change it kept for us. A base above what we expect, or a
// holder saying it dropped unconfirmed changes (lossy) where we have no earlier state,
// means changes were lost: the caller tells the clients concerned to rejoin.
//
// Pure logic: the mesh thread feeds it tags, the clock and the loop's progress, and
// sends the acknowledgements it returns.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "relay/core/events.h"

namespace rt::cluster {

class HandOverIntake {
public:
    static constexpr int64_t kAckIntervalMs = 20;     // news of what was received only, at most this often
    static constexpr int64_t kResendAskMs = 100;      // a request for a resend, at most this often
    static constexpr int64_t kKeepaliveMs = 1000;     // a confirmation even without progress
    static constexpr int64_t kForgetAfterMs = 60000;  // a stream silent this long is forgotten

    enum class Verdict { Deliver, Duplicate, Gap };
    struct Result {
        Verdict verdict = Verdict::Duplicate;
        bool lost = false;  // changes before this one will never come
    };

    // A change from holder, numbered by tag. Deliver: hand it to the loop now.
    Result receive(const std::string& holder, const HandOverTag& tag, int64_t now_ms);
    // A base notice from holder: true when it shows changes were lost.
    bool base_notice(const std::string& holder, const HandOverTag& tag, int64_t now_ms);
    // The loop's sockets took `count` of the changes delivered so far (in delivery order).
    void processed(uint64_t count);
    // Confirmations to send now: (holder node, ack).
    void due(int64_t now_ms, std::vector<std::pair<std::string, HandOverAck>>& out);
    size_t streams() const { return streams_.size(); }

private:
    struct Stream {
        std::string holder;
        uint64_t next = 0;       // the number expected next (0: none yet)
        uint64_t processed = 0;  // the loop processed everything up to here
        uint64_t skipped = 0;    // numbers below the holder's base when we started or lost some
        uint64_t acked = 0;
        uint64_t acked_received = 0;
        bool ask_resend = false;
        int64_t last_ask_ms = INT64_MIN / 2;
        int64_t last_ack_ms = INT64_MIN / 2;
        int64_t last_heard_ms = 0;
    };
    struct Delivered {
        uint64_t count;
        uint64_t stream;
        uint64_t seq;
    };

    Stream& stream(const std::string& holder, uint64_t id, int64_t now_ms);
    bool skip_lost(Stream& s, const HandOverTag& tag);

    std::unordered_map<uint64_t, Stream> streams_;
    std::deque<Delivered> delivered_;  // handed to the loop, not yet processed
    uint64_t delivered_count_ = 0;
};

}  // namespace rt::cluster
