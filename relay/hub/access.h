// Private channels (Realtime Authorization, design 3.6): which checks of a member's
// policies run when, on the database (AccessPort: realtime.authorize on the pool, never
// on the loop), and what their answers mean, with Supabase's texts.
//
// - A private join runs the read check (presence too when the join enables presence);
//   it is refused unless broadcast or presence read is allowed.
// - A member's first broadcast and its first track run the write check (both
//   extensions; a track also reads presence when the join did not); the answer is kept
//   on the member until a new access_token. While any check of a member runs, its
//   pushes wait, in order (Member::waiting), so nothing overtakes the check.
// - An access_token resets the policies and runs the read check again; a member that
//   no longer reads is shut down.
// - An HTTP broadcast with private messages runs the write check per topic.
// Checks are identified by tickets; a member that leaves forgets its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "relay/core/metrics.h"
#include "relay/hub/model.h"
#include "relay/hub/ports.h"

namespace rt {

class Access {
public:
    enum class Purpose : uint8_t { Join, Refresh, Write, Http };
    using HttpDone = std::function<void(const AccessResult&)>;

    // A check waiting for its answer: whom it is for.
    struct Pending {
        Purpose purpose = Purpose::Join;
        Member* member = nullptr;  // Join, Refresh, Write
        HttpDone done;             // Http
    };

    // At most this many pushes of one member wait for a check; more are dropped.
    static constexpr size_t kMaxWaiting = 256;

    Access(Metrics& metrics, AccessPort* port) : metrics_(metrics), port_(port) {}

    bool available() const { return port_ != nullptr; }

    // The read check of m's private join (claims: who the join acts as).
    void check_join(Member& m, const Claims& claims);
    // m's token changed: its policies are reset and its read checked again.
    void recheck(Member& m);
    // Whether msg, a push of joined private member m, must wait for a check: one runs, or
    // msg is m's first broadcast or track (its write check starts now). If so msg is
    // kept in m.waiting (or dropped past kMaxWaiting).
    bool must_wait(Member& m, std::unique_ptr<phoenix::Inbound>& msg);
    // The write check of a REST caller on topic (the sub-topic); done runs on the loop.
    void check_http(const std::string& claims_json, std::string headers_json, std::string topic, HttpDone done);

    // The check ticket answers, taken from the pending ones (nullopt: its member left).
    std::optional<Pending> take(uint64_t ticket);
    void forget(const Member& m);  // m leaves: the answers of its checks find nobody

    // A write check's answer, kept on the member (not when it failed: the next push checks
    // again). A track's read of presence comes with it.
    static void keep_write(Member& m, const AccessResult& r);

    // -- what answers mean (pure) -------------------------------------------------------
    // The join refusal for a read check's answer on name (the sub-topic), if any; replay:
    // the join asked for a replay, which needs broadcast read.
    static std::optional<std::string> join_refusal(const AccessResult& r, std::string_view name, bool replay);
    // What a channel is shut down with after its read check with a new token (before:
    // the policies of the old one), if it is.
    static std::optional<std::string> refresh_shutdown(const Policies& before, const AccessResult& r,
                                                       std::string_view name);

private:
    uint64_t ask(Pending pending, uint64_t client, AccessCheck check);
    AccessCheck check_for(const Member& m) const;

    Metrics& metrics_;
    AccessPort* port_;
    uint64_t next_ticket_ = 1;
    std::unordered_map<uint64_t, Pending> pending_;
};

}  // namespace rt
