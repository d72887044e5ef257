// A join, from the phx_join to the reply: checks (topic, rate, channel count), then
// authorize (the join's token, private-only, replay on a public channel), then prepare
// the membership, then the asynchronous steps (a private channel's read check,
// hub/access; its postgres_changes rows from the database, unless it resumes orphaned
// ones; the cluster routing the channel here; a private channel's replay, hub/replay),
// then admit (the reply, replayed messages, presence state, system messages, held
// changes). Each step is one function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "relay/core/config.h"
#include "relay/core/metrics.h"
#include "relay/hub/access.h"
#include "relay/hub/auth.h"
#include "relay/hub/changes.h"
#include "relay/hub/channels.h"
#include "relay/hub/model.h"
#include "relay/hub/output.h"
#include "relay/hub/ports.h"
#include "relay/hub/presence.h"
#include "relay/hub/replay.h"
#include "relay/hub/resume.h"

namespace rt {

// How a feature makes a member leave: presence, bindings, channel and connection (the Hub).
class MemberExit {
public:
    virtual void remove_member(Member& m, bool send_close) = 0;

protected:
    ~MemberExit() = default;
};

class JoinFlow {
public:
    struct Parts {
        const Config& cfg;
        const LoopClock& clock;
        Metrics& metrics;
        Output& out;
        Channels& channels;
        Presence& presence;
        Changes& changes;
        Resume& resume;
        const Auth& auth;
        Access& access;
        Replay& replay;
        DbPort* db;
        ClusterPort* cluster;
        MemberExit& exit;
    };
    explicit JoinFlow(Parts parts) : p_(parts) {
        p_.changes.on_live_before_reply([this](Member& m) { ask_kept(m); });
    }

    void handle(Connection& conn, phoenix::Inbound& msg);  // a phx_join
    void on_read_checked(Member& m, const AccessResult& r);  // a private join's read check answered
    void on_subscribe_result(SubscribeResult&& r);      // the database step's answer
    void on_channel_routed(const std::string& key);     // the cluster step's answer
    void on_replay_result(ReplayResult&& r);            // the replay step's answer
    // m leaves before its join completed: its subscribe result finds nobody and undoes itself.
    void forget(const Member& m) {
        pending_.erase(m.id);
        adopt_waits_.erase(m.id);
        awaiting_kept_.erase(m.id);
    }
    // The node a join's adopted rows were parked on answered its KeptAsk (hub/kept_transfer).
    void on_kept_handed(const std::string& node, KeptHandOver&& handed);
    // Joins whose kept changes did not come in time go on without them (told); call ~1/s.
    void expire_kept();
    // Joins whose subscriptions are on a node that still beat when they asked try again;
    // call ~1/s.
    void retry_adoptions();
    // A join still waiting for the database, other than except, points at ch.
    bool waits_on(const Channel& ch, const Member* except) const;

private:
    bool admissible(Connection& conn, const phoenix::Inbound& msg);
    std::optional<JoinIdentity> authorize(const Connection& conn, const phoenix::Inbound& msg,
                                          const JoinConfig& config, std::string& refusal);
    Member& prepare(Connection& conn, const phoenix::Inbound& msg, JoinConfig&& config, JoinIdentity&& who);
    void proceed(Member& m, const Claims& claims);
    static bool subscribes(const Member& m);  // some binding of m is for the database
    void subscribe(Member& m, const Claims& claims);
    void unsubscribe_made(std::vector<int64_t> ids);  // rows of a join that went away
    void complete(Member& m);
    void routed(Member& m);
    void ask_kept(Member& m);   // once m's rows are live here: what their old node kept
    void after_kept(Member& m); // the replay step, then the admission
    void admit(Member& m, const ReplayResult* replayed = nullptr);
    void refuse(Member& m, const std::string& reason);  // answers the waiting join, removes m
    void tell_missed(Member& m);

    Parts p_;
    std::unordered_map<uint64_t, Member*> pending_;  // member id -> member waiting for its check or the database
    struct AdoptWait {
        int64_t due_ms = 0;       // ask again then (0: asking now)
        int64_t deadline_ms = 0;  // past it, subscribe anew whatever is elsewhere
    };
    std::unordered_map<uint64_t, AdoptWait> adopt_waits_;  // member id -> its adoption attempts
    std::unordered_map<uint64_t, Member*> awaiting_kept_;  // member id -> a join waiting for a peer's kept changes
    uint64_t next_member_id_ = 1;
    int64_t last_failed_id_ = 0;  // ids of bindings that cannot be subscribed count down from -1
};

}  // namespace rt
