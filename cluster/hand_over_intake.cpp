// The receiving side of the hand-over: order, gaps, losses and confirmations per stream.
#include "cluster/hand_over_intake.h"

#include <algorithm>

namespace rt::cluster {

HandOverIntake::Stream& HandOverIntake::stream(const std::string& holder, uint64_t id, int64_t now_ms) {
    Stream& s = streams_[id];
    if (s.holder.empty()) s.holder = holder;
    s.last_heard_ms = now_ms;
    return s;
}

// The holder no longer has what comes before its base: start there. True when that skips
// changes we were owed (not for a stream we start on, unless the holder says it dropped some).
bool HandOverIntake::skip_lost(Stream& s, const HandOverTag& tag) {
    bool fresh = s.next == 0;
    if (!fresh && tag.base <= s.next) return false;
    s.next = tag.base;
    s.skipped = std::max(s.skipped, tag.base - 1);
    return fresh ? tag.lossy : true;
}

HandOverIntake::Result HandOverIntake::receive(const std::string& holder, const HandOverTag& tag, int64_t now_ms) {
    Stream& s = stream(holder, tag.stream, now_ms);
    Result r;
    if (s.next != 0 && tag.seq < s.next) return r;  // a resend of what we have
    if (s.next == 0 || tag.seq > s.next) {
        if (s.next == 0 && tag.seq != tag.base) {
            s.ask_resend = true;  // we start at the holder's base: ask for it
            r.verdict = Verdict::Gap;
            return r;
        }
        r.lost = skip_lost(s, tag);
        if (tag.seq != s.next) {
            s.ask_resend = true;
            r.verdict = Verdict::Gap;
            return r;
        }
    }
    s.next = tag.seq + 1;
    s.ask_resend = false;
    delivered_.push_back({++delivered_count_, tag.stream, tag.seq});
    r.verdict = Verdict::Deliver;
    return r;
}

bool HandOverIntake::base_notice(const std::string& holder, const HandOverTag& tag, int64_t now_ms) {
    Stream& s = stream(holder, tag.stream, now_ms);
    bool lost = skip_lost(s, tag);
    if (s.next == tag.base) s.ask_resend = false;
    return lost;
}

void HandOverIntake::processed(uint64_t count) {
    while (!delivered_.empty() && delivered_.front().count <= count) {
        auto it = streams_.find(delivered_.front().stream);
        if (it != streams_.end()) it->second.processed = std::max(it->second.processed, delivered_.front().seq);
        delivered_.pop_front();
    }
}

void HandOverIntake::due(int64_t now_ms, std::vector<std::pair<std::string, HandOverAck>>& out) {
    for (auto it = streams_.begin(); it != streams_.end();) {
        Stream& s = it->second;
        if (now_ms - s.last_heard_ms > kForgetAfterMs) {
            it = streams_.erase(it);
            continue;
        }
        uint64_t through = std::max(s.processed, s.skipped);
        uint64_t received = std::max(s.next ? s.next - 1 : 0, through);
        bool ask = s.ask_resend && now_ms - s.last_ask_ms >= kResendAskMs;
        bool progress = through > s.acked;
        bool heard = received > s.acked_received && now_ms - s.last_ack_ms >= kAckIntervalMs;
        bool keepalive = now_ms - s.last_ack_ms >= kKeepaliveMs;
        if (ask || progress || heard || keepalive) {
            out.emplace_back(s.holder, HandOverAck{it->first, through, ask, received});
            if (ask) s.last_ask_ms = now_ms;
            s.last_ack_ms = now_ms;
            s.acked = through;
            s.acked_received = received;
        }
        ++it;
    }
}

}  // namespace rt::cluster
