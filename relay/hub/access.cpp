// Realtime Authorization: the checks, their tickets, and what their answers mean.
#include "relay/hub/access.h"

#include <strings.h>

#include "relay/core/log.h"
#include "relay/core/topic.h"
#include "relay/protocol/errors.h"

namespace rt {
namespace {

bool yes(const std::optional<bool>& v) { return v.value_or(false); }

std::string_view event_of(const phoenix::Inbound& msg) {
    if (msg.binary || msg.event != "presence") return msg.event;
    const json::Value* ev = msg.payload ? json::member(*msg.payload, "event") : nullptr;
    std::string_view name = json::string_or(ev, "");
    bool track = name.size() == 5 && strncasecmp(name.data(), "track", 5) == 0;  // any case, as hub/presence reads it
    return track ? "track" : "presence";
}

// The failure of a check, for the log (the client gets Supabase's text).
void log_failure(const AccessResult& r, std::string_view name) {
    if (r.failure == AccessResult::Failure::None) return;
    LOG_WARN("authorization check of channel %.*s failed: %s%s%s", static_cast<int>(name.size()), name.data(),
             r.error_code.c_str(), r.error_code.empty() ? "" : " ", r.error_message.c_str());
}

}  // namespace

AccessCheck Access::check_for(const Member& m) const {
    AccessCheck c;
    c.topic = std::string(topic::sub_topic(m.channel->topic));
    c.claims_json = m.claims().json;
    c.headers_json = m.conn->headers_json;
    return c;
}

uint64_t Access::ask(Pending pending, uint64_t client, AccessCheck check) {
    uint64_t ticket = next_ticket_++;
    if (pending.member) pending.member->checking = true;
    pending_.emplace(ticket, std::move(pending));
    metrics_.authorization_checks++;
    port_->authorize(client, ticket, std::move(check));
    return ticket;
}

void Access::check_join(Member& m, const Claims& claims) {
    AccessCheck c = check_for(m);
    c.claims_json = claims.json;
    c.presence = m.presence_enabled;
    ask({Purpose::Join, &m, {}}, m.conn->id, std::move(c));
}

void Access::recheck(Member& m) {
    AccessCheck c = check_for(m);
    c.presence = m.presence_enabled;
    ask({Purpose::Refresh, &m, {}}, m.conn->id, std::move(c));
}

bool Access::must_wait(Member& m, std::unique_ptr<phoenix::Inbound>& msg) {
    if (!m.checking) {
        std::string_view ev = event_of(*msg);
        bool first_send = ev == "broadcast" && !m.policies.broadcast_write;
        bool first_track = ev == "track" && !m.policies.presence_write;
        if (!first_send && !first_track) return false;
        AccessCheck c = check_for(m);
        c.read = first_track && !m.policies.presence_read;  // presence was off at the join
        c.write = true;
        ask({Purpose::Write, &m, {}}, m.conn->id, std::move(c));
    }
    if (m.waiting.size() >= kMaxWaiting) {
        metrics_.dropped_messages++;
        return true;
    }
    msg->keep_frame();  // it outlives the caller's buffer
    m.waiting.push_back(std::move(msg));
    return true;
}

void Access::check_http(const std::string& claims_json, std::string headers_json, std::string topic, HttpDone done) {
    AccessCheck c;
    c.topic = std::move(topic);
    c.claims_json = claims_json;
    c.headers_json = std::move(headers_json);
    c.read = false;
    c.write = true;
    c.presence = false;
    ask({Purpose::Http, nullptr, std::move(done)}, 0, std::move(c));
}

std::optional<Access::Pending> Access::take(uint64_t ticket) {
    auto it = pending_.find(ticket);
    if (it == pending_.end()) return std::nullopt;
    Pending p = std::move(it->second);
    pending_.erase(it);
    if (p.member) p.member->checking = false;
    return p;
}

void Access::forget(const Member& m) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.member == &m)
            it = pending_.erase(it);
        else
            ++it;
    }
}

void Access::keep_write(Member& m, const AccessResult& r) {
    if (r.failure != AccessResult::Failure::None) {
        log_failure(r, topic::sub_topic(m.channel->topic));
        return;
    }
    if (r.policies.presence_read) {
        m.policies.presence_read = r.policies.presence_read;
        m.policies.broadcast_read = r.policies.broadcast_read;
    }
    m.policies.broadcast_write = r.policies.broadcast_write;
    m.policies.presence_write = r.policies.presence_write;
}

std::optional<std::string> Access::join_refusal(const AccessResult& r, std::string_view name, bool replay) {
    log_failure(r, name);
    switch (r.failure) {
        case AccessResult::Failure::None: break;
        case AccessResult::Failure::Policy:
            if (r.error_code == "23514") return std::string(errors::kMissingPartition);
            return errors::unauthorized(name);  // a policy that raises denies its user
        case AccessResult::Failure::Timeout: return "QueryCanceled: " + r.error_message;
        case AccessResult::Failure::Unreachable: return std::string(errors::kNoDatabaseForPolicies);
        case AccessResult::Failure::Failed: return std::string(errors::kUnableToSetPolicies);
    }
    bool broadcast = yes(r.policies.broadcast_read);
    if (!broadcast && !yes(r.policies.presence_read)) return errors::unauthorized(name);
    if (replay && !broadcast) return errors::unauthorized(name);
    return std::nullopt;
}

std::optional<std::string> Access::refresh_shutdown(const Policies& before, const AccessResult& r,
                                                    std::string_view name) {
    log_failure(r, name);
    switch (r.failure) {
        case AccessResult::Failure::None: break;
        case AccessResult::Failure::Policy:
            if (r.error_code == "23514") return std::string(errors::kUnableToSetPolicies);
            return errors::kNoReadPrefix + std::string(name);
        case AccessResult::Failure::Timeout: return std::string(errors::kQueryCancelledRetry);
        case AccessResult::Failure::Unreachable:
        case AccessResult::Failure::Failed: return std::string(errors::kUnableToSetPolicies);
    }
    const Policies& now = r.policies;
    if (!yes(now.broadcast_read) && !yes(now.presence_read)) return errors::kNoReadPrefix + std::string(name);
    if ((yes(before.broadcast_read) && !yes(now.broadcast_read)) ||
        (yes(before.presence_read) && !yes(now.presence_read)))
        return errors::kReadRevokedPrefix + std::string(name);
    return std::nullopt;
}

}  // namespace rt
