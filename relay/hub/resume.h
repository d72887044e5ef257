// Parked subscriptions (issue 15): when a client's socket closes, its postgres_changes
// subscriptions stay in the decoder for --resume-window, and the changes they match are
// kept here, bounded per subscription (--resume-max-changes, --resume-max-bytes) and in
// total (--resume-total-bytes). The same user (role and sub) joining the same topic with
// the same bindings adopts them: its join reply carries their ids, and what was kept
// follows the reply, in commit order, each marked "recovered", then live changes. A
// subscription that kept less than it missed, or whose window passed before its client
// came back (a lapsed one, remembered a while), makes the join say so with a system error.
//
// The rows a crashed run of this node left behind (orphans) are parked the same way, for
// --resume-grace and for any topic (the rows do not record it).
//
// The slot must not be acknowledged past a kept change (held_floor): on the slot holder
// that keeps them in the WAL until they are delivered or dropped.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "relay/core/config.h"
#include "relay/core/metrics.h"
#include "relay/hub/model.h"
#include "relay/hub/ports.h"

namespace rt {

class Resume {
public:
    Resume(const Config& cfg, const LoopClock& clock, Metrics& metrics, DbPort* db)
        : cfg_(cfg), clock_(clock), metrics_(metrics), db_(db) {}

    void adopt_orphans(std::vector<OrphanRow> rows);  // this node's rows left by a crash
    // m's socket closed: its bindings are parked with unsent (its changes queued but never
    // written, oldest first) as their first kept changes. False when m has nothing to park.
    bool park(const Member& m, const Claims& claims, std::vector<ChangeEvent> unsent);
    // m's bindings take the ids of matching parked subscriptions (all or none) and m.replay
    // their kept changes; m.missed_since_s says whether some were missed. False when some
    // binding has nothing to adopt; then m.missed_since_s says whether m's window lapsed.
    // Parked ones whose claims differ from claims (the new token's, e.g. another org_id a
    // policy reads) are not adopted: what they kept was decided by the old claims. They
    // are unsubscribed, m is subscribed anew and told it missed changes since they parked.
    // Claims that differ only in exp, iat, nbf or jti (a refreshed token) are the same
    // grant: adopted, and the rows take the new claims.
    bool try_adopt(Member& m, const Claims& claims);
    // Another node adopted these parked ids: their kept changes, for it; forgotten here.
    KeptHandOver hand_over(const KeptAsk& ask);
    bool holds(int64_t id) const { return parked_.count(id) > 0; }
    void mark_live(int64_t id);  // the decoder has parked id (a SUBSCRIBED document)
    // Keeps ev's group for the parked id (if it is one) until it is adopted or expires.
    void hold(int64_t id, const ChangeEvent& ev, const ChangeGroup& group);
    // Parked subscriptions past their window are unsubscribed; call ~1/s.
    void expire();
    // The node drains: orphans stay (for the node's next run), none expires.
    void keep_rows() { keep_rows_ = true; }

    // Lowest commit LSN still kept (0: none).
    uint64_t held_floor() const { return fronts_.empty() ? 0 : *fronts_.begin(); }
    size_t count() const { return parked_.size(); }
    int64_t kept_bytes() const { return kept_bytes_; }

private:
    // One group of a change (its event has that group only), shared by the parked ids of it.
    using Kept = std::shared_ptr<const ChangeEvent>;
    struct Parked {
        OrphanRow row;
        std::string key;         // who and what it is (binding_key)
        std::string claims;      // the claims its row was made with (its kept changes decided by)
        std::string topic;       // "" for orphans (any topic)
        uint64_t group = 0;      // parked together (one membership; 0 for orphans)
        size_t index = 0;        // its binding's place in the membership
        bool live = true;
        int64_t deadline_ms = 0;
        int64_t parked_s = 0;    // wall time it was parked
        std::deque<Kept> kept;
        int64_t bytes = 0;
        int64_t missed_since_s = 0;  // the first change it could not keep (0: none)
        Member::Missed missed_why = Member::Missed::Overflow;
        int64_t token_exp_s = 0;     // its token's exp: nothing is kept after it (0: none)
        // A crash orphan parked by the dead run: what that run kept since then is gone (0: none).
        int64_t lost_since_s = 0;
    };
    struct Lapsed {
        std::string key;  // the membership's: topic, who, every binding
        int64_t since_s = 0;
        int64_t forget_ms = 0;
    };

    void add(Parked p);
    void record_parked(std::vector<int64_t> ids, int64_t at_ms);  // at_ms 0: no longer parked
    void remove(int64_t id, bool unsubscribe, std::vector<int64_t>* ids);
    bool match(const Member& m, const Claims& claims, std::vector<int64_t>& chosen, bool& stale) const;
    void refresh(const Member& m, const std::vector<int64_t>& chosen, const Claims& claims);
    void take(Member& m, const std::vector<int64_t>& chosen);
    std::vector<ChangeEvent> recovered(const std::vector<int64_t>& ids) const;
    void discard(Member& m, const std::vector<int64_t>& chosen);
    void share(const ChangeEvent& ev, const ChangeGroup& group);
    static void fold_missed(const Parked& p, int64_t& since_s, Member::Missed& why);
    void overflow(Parked& p);
    bool token_expired(Parked& p);
    void remember_lapsed(const std::vector<const Parked*>& group);
    void forget_lapsed(int64_t now_ms);
    void publish_gauges();

    const Config& cfg_;
    const LoopClock& clock_;
    Metrics& metrics_;
    DbPort* db_;
    std::unordered_map<int64_t, Parked> parked_;
    std::unordered_multimap<std::string, int64_t> by_key_;
    std::multiset<uint64_t> fronts_;  // the commit LSN of each parked id's oldest kept change
    std::unordered_map<std::string, Lapsed> lapsed_;
    std::deque<std::string> lapsed_order_;
    Kept last_kept_;  // the group held last (its next ids share it)
    const ChangeGroup* last_group_ = nullptr;
    int64_t last_cost_ = 0;  // what holding last_kept_ costs a subscription
    uint64_t next_group_ = 1;
    int64_t kept_bytes_ = 0;
    int64_t kept_changes_ = 0;
    int64_t next_expiry_ms_ = 0;
    bool keep_rows_ = false;
};

}  // namespace rt
