// Postgres Changes on the loop: subscription ids bound to memberships, the delivery of
// change events to the members whose bindings they match (each member sees only its own
// ids; each group of an event as the slot holder decided it), the slot holder's notices
// (a system error for a binding; an ended binding gets nothing more and its row goes),
// and the "Subscribed to PostgreSQL" announcement once the decoder has every binding of
// a member (a SUBSCRIBED document). Subscription rows themselves are made and removed by
// the database pool, through DbPort.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "relay/core/metrics.h"
#include "relay/hub/model.h"
#include "relay/hub/output.h"
#include "relay/hub/ports.h"
#include "relay/hub/replay_guard.h"
#include "relay/hub/resume.h"
#include "relay/hub/write_ledger.h"

namespace rt {

class Changes {
public:
    Changes(Output& out, Metrics& metrics, DbPort* db, ReplayGuard& replay, Resume& resume, WriteLedger& ledger)
        : out_(out), metrics_(metrics), db_(db), replay_(replay), resume_(resume), ledger_(ledger) {}

    // m's binding ids route to it (changes wait in its replay until it is joined).
    void bind(Member& m);
    void release(Member& m);  // m leaves: its ids are forgotten and unsubscribed
    // m's socket closed: its ids are forgotten here but stay subscribed (hub/resume parks
    // them); returns its changes that were queued but never written, oldest first.
    std::vector<ChangeEvent> park(Member& m);
    // From now on (the node drains) release() keeps the rows, for clients to resume.
    void keep_rows() { keep_rows_ = true; }
    // A change event from the slot (here or through the mesh), the ledger's last() one:
    // its frames count there until written.
    void deliver(const ChangeEvent& ev);
    // conn's socket took frames (SendQueue::written): their changes' frames no longer wait.
    void written(Connection& conn);
    // conn closed (after park()): its frames still waiting count as taken (kept or gone).
    void dropped(Connection& conn);
    // Sends a group's payload to m (one frame per channel and protocol version through
    // cache, when given).
    void send(Member& m, const ChangePos& pos, const ChangeGroup& group, FrameRef* cache);
    void announce_if_live(Member& m);
    // Called when every binding of a member not yet answered became live (hub/join waits
    // for that before it asks another node for what it kept).
    void on_live_before_reply(std::function<void(Member&)> f) { live_before_reply_ = std::move(f); }
    // A refreshed token's claims go to m's live bindings' rows (the database answers
    // with end_bindings for those the new role may not have).
    void claims_changed(Member& m, const std::string& claims_json);
    // Notices for bindings, as the slot holder's (a system error; ended ones stop).
    void end_bindings(const std::vector<BindingNotice>& notices) {
        for (const BindingNotice& n : notices) notify(n);
    }
    // The members with a bound id that is not in present (rows the slot holder removed).
    std::vector<Member*> lost(const std::unordered_set<int64_t>& present) const;

private:
    void fan_out(const ChangeEvent& ev);
    void mark_live(const std::vector<int64_t>& ids);
    void deliver_group(const ChangeEvent& ev, const ChangeGroup& group);
    void notify(const BindingNotice& n);
    void keep_for_reply(Member& m, const ChangeEvent& ev, const ChangeGroup& group, std::vector<int64_t>&& own);
    void deliver_recovered(const ChangeEvent& ev);
    void keep_early(int64_t id, const ChangeEvent& ev, const ChangeGroup& group);
    void track(Connection& conn, const Member& m, const ChangePos& pos, const ChangeGroup& group,
               const FrameRef& frame);

    Output& out_;
    Metrics& metrics_;
    DbPort* db_;
    ReplayGuard& replay_;
    Resume& resume_;
    WriteLedger& ledger_;
    uint64_t delivering_ = 0;  // the ledger number of the change being delivered (0: none)
    std::unordered_map<int64_t, Member*> bindings_by_id_;
    std::unordered_set<int64_t> live_before_bound_;  // SUBSCRIBED seen before the DB answer
    // Rows for such ids, and recovered rows (a subscription moving here), before the answer.
    std::unordered_map<int64_t, std::vector<ChangeEvent>> early_;
    size_t early_count_ = 0;
    uint64_t change_stamp_ = 0;
    bool keep_rows_ = false;
    std::function<void(Member&)> live_before_reply_;
};

}  // namespace rt
