// The join flow: checks, authorization, the membership, its database and cluster steps,
// and the reply.
#include "relay/hub/join.h"

#include <algorithm>

#include "relay/core/clock.h"
#include "relay/core/ids.h"
#include "relay/core/log.h"
#include "relay/core/topic.h"
#include "relay/hub/kept_transfer.h"
#include "relay/protocol/errors.h"
#include "relay/protocol/payloads.h"

namespace rt {
namespace {

constexpr int64_t kRegistrySilenceMs = 3000;  // registry beats come every second: three missed is dead
constexpr int64_t kAdoptRetryMs = 500;    // a join waiting for another node to be found dead asks again
constexpr int64_t kAdoptMarginMs = 2500;  // ... until this long past that silence (beats, retries, a loaded machine)
constexpr int64_t kKeptWaitMs = 3000;     // a join waits this long for a live node's kept changes

// The join reply's response: each binding as the client sent it, with its id.
std::string join_response(const std::vector<Binding>& bindings) {
    std::string response = "{\"postgres_changes\":[";
    for (size_t i = 0; i < bindings.size(); ++i) {
        if (i) response.push_back(',');
        const Binding& b = bindings[i];
        response += "{\"id\":" + std::to_string(b.id);
        std::string_view echo = b.echo_json;
        if (echo.size() > 2) {
            response.push_back(',');
            response.append(echo.substr(1, echo.size() - 2));
        }
        response.push_back('}');
    }
    response += "]}";
    return response;
}

}  // namespace

void JoinFlow::handle(Connection& conn, phoenix::Inbound& msg) {
    // Phoenix closes a joined topic before it handles the topic's new join, whatever that
    // join's outcome: the old channel gets its phx_close either way.
    if (Member* existing = conn.member(msg.topic)) p_.exit.remove_member(*existing, true);
    if (!admissible(conn, msg)) return;
    JoinConfig config = parse_join_config(msg.payload);
    std::string refusal;
    std::optional<JoinIdentity> who = authorize(conn, msg, config, refusal);
    if (!who) {
        p_.out.error_reply(conn, msg, refusal);
        return;
    }
    if (!config.bindings_error.empty()) {
        p_.out.error_reply(conn, msg, config.bindings_error);
        return;
    }
    Claims claims = who->claims;
    Member& m = prepare(conn, msg, std::move(config), std::move(*who));
    if (m.is_private()) {
        pending_[m.id] = &m;
        p_.access.check_join(m, claims);
        return;
    }
    proceed(m, claims);
}

// After the authorization: the database step, unless the join has no binding to
// subscribe or resumes orphaned ones. A binding that cannot be subscribed (without a
// database, every one) keeps its place with an id of its own and is told after the reply.
void JoinFlow::proceed(Member& m, const Claims& claims) {
    bool database = p_.db && p_.db->available();
    for (Binding& b : m.bindings) {
        if (!database && !b.failed()) b.error = errors::kNoDatabase;
        if (b.failed()) b.id = --last_failed_id_;  // unique, and no subscription row's
    }
    if (!subscribes(m) || p_.resume.try_adopt(m, claims)) {
        complete(m);
        return;
    }
    subscribe(m, claims);
}

bool JoinFlow::subscribes(const Member& m) {
    for (const Binding& b : m.bindings)
        if (!b.failed()) return true;
    return false;
}

// The topic, the join rate and the number of channels of the connection.
bool JoinFlow::admissible(Connection& conn, const phoenix::Inbound& msg) {
    if (!topic::is_channel(msg.topic)) {
        p_.out.error_reply(conn, msg, errors::kUnmatchedTopic);
        return false;
    }
    if (topic::is_unnamed(msg.topic)) {
        p_.out.error_reply(conn, msg, errors::kTopicNameRequired);
        return false;
    }
    if (!conn.joins.allow(p_.clock.mono_ms)) {
        p_.metrics.rate_limited++;
        p_.out.error_reply(conn, msg, errors::kJoinRateLimit);
        return false;
    }
    if (!conn.member(msg.topic) && static_cast<int>(conn.members.size()) >= p_.cfg.limits.max_channels_per_client) {
        p_.metrics.rate_limited++;
        p_.out.error_reply(conn, msg, errors::kChannelLimit);
        return false;
    }
    return true;
}

// Who the join acts as, and whether its channel may be joined this way. A join may bring
// its own token; either way the token must still be valid. Private channels need the
// database (their policies are there); public ones are refused by --private-only and
// cannot replay.
std::optional<JoinIdentity> JoinFlow::authorize(const Connection& conn, const phoenix::Inbound& msg,
                                                const JoinConfig& config, std::string& refusal) {
    if (!config.is_private && p_.cfg.private_only) {
        refusal = errors::kPrivateOnly;
        return std::nullopt;
    }
    std::optional<JoinIdentity> who = p_.auth.join_identity(conn, config.access_token, p_.clock.wall_s, refusal);
    if (!who) return std::nullopt;
    if (config.is_private && !p_.access.available()) {
        refusal = errors::kNoDatabaseForPolicies;
        return std::nullopt;
    }
    if (!config.is_private && config.replay.asked) {
        refusal = errors::kReplayPublic;
        return std::nullopt;
    }
    return who;
}

// The membership, on its channel but not yet among its members (not joined).
Member& JoinFlow::prepare(Connection& conn, const phoenix::Inbound& msg, JoinConfig&& config, JoinIdentity&& who) {
    auto m = std::make_unique<Member>();
    for (BindingRequest& request : config.bindings) {
        Binding b;
        static_cast<BindingRequest&>(b) = std::move(request);
        m->bindings.push_back(std::move(b));
    }
    m->id = next_member_id_++;
    m->conn = &conn;
    m->join_ref = msg.join_ref.value_or(msg.ref.value_or(""));
    m->self = config.self;
    m->ack = config.ack;
    m->replication_ready = config.replication_ready;
    m->presence_enabled = config.presence_enabled;
    m->presence_key = config.presence_key.empty() ? random_uuid() : std::move(config.presence_key);
    m->access_token = std::move(who.token);
    m->token_exp = who.claims.exp;
    m->own_claims = std::move(who.own_claims);
    m->pending_ref = msg.ref;
    m->replay_request = config.replay;
    m->channel = &p_.channels.get(msg.topic, config.is_private);
    Member& ref = *m;
    conn.members.push_back(std::move(m));
    return ref;
}

// The database step: one subscription row per binding that can be subscribed, answered
// by on_subscribe_result. In a cluster it first adopts what a dead node left for the same
// bindings and user (the client resumes here, hub/resume): if those rows are on a node that
// still beats, it asks again until that node has been silent for the peer-down period.
void JoinFlow::subscribe(Member& m, const Claims& claims) {
    std::vector<BindingSpec> specs;
    for (const Binding& b : m.bindings)
        if (!b.failed()) specs.push_back(b.spec);
    pending_[m.id] = &m;
    AdoptAs as;
    as.enabled = p_.cfg.resume_window_s > 0 && !p_.cfg.cluster_bind.empty();
    if (as.enabled) {
        as.role = claims.role;
        as.sub = claims.sub;
        as.claims_json = claims.json;
        as.silent_for_ms = std::max<int64_t>(p_.cfg.peer_down_ms, kRegistrySilenceMs);
        auto w = adopt_waits_.try_emplace(m.id, AdoptWait{0, p_.clock.mono_ms + as.silent_for_ms + kAdoptMarginMs});
        as.wait = p_.clock.mono_ms < w.first->second.deadline_ms;
    }
    p_.db->subscribe(m.conn->id, m.id, std::move(specs), claims.json, std::move(as));
}

void JoinFlow::retry_adoptions() {
    std::vector<uint64_t> due;
    for (auto& [id, w] : adopt_waits_)
        if (w.due_ms && w.due_ms <= p_.clock.mono_ms) due.push_back(id);
    for (uint64_t id : due) {
        auto it = pending_.find(id);
        if (it == pending_.end()) {
            adopt_waits_.erase(id);
            continue;
        }
        adopt_waits_[id].due_ms = 0;
        subscribe(*it->second, it->second->claims());
    }
}

// A private join's read check: refused unless it may read broadcasts or presence (a
// replay needs broadcast read, and valid parameters).
void JoinFlow::on_read_checked(Member& m, const AccessResult& r) {
    pending_.erase(m.id);
    std::string_view name = topic::sub_topic(m.channel->topic);
    std::optional<std::string> refusal = Access::join_refusal(r, name, m.replay_request.asked);
    if (!refusal && m.replay_request.requested && !m.replay_request.valid) refusal = errors::kReplayParams;
    if (refusal) {
        p_.metrics.authorization_denied++;
        refuse(m, *refusal);
        return;
    }
    m.policies = r.policies;
    proceed(m, m.claims());
}

void JoinFlow::on_subscribe_result(SubscribeResult&& r) {
    auto it = pending_.find(r.member_id);
    if (it == pending_.end()) {
        // The channel was left or replaced meanwhile: undo what the database did.
        if (r.ok && p_.db) unsubscribe_made(std::move(r.ids));
        return;
    }
    Member& m = *it->second;
    if (r.ok && r.elsewhere && !r.adopted && r.ids.empty()) {
        adopt_waits_[m.id].due_ms = p_.clock.mono_ms + kAdoptRetryMs;  // still pending
        return;
    }
    pending_.erase(it);
    adopt_waits_.erase(m.id);
    if (r.claims_changed_since_s && !r.adopted) {
        m.missed_since_s = r.claims_changed_since_s;
        m.missed_why = Member::Missed::Claims;
    }
    if (r.adopted && !r.parked_on.empty()) {  // parked on a live node: it hands over what it kept
        m.kept_from = std::move(r.parked_on);
        m.kept_since_s = r.lost_since_s ? r.lost_since_s : p_.clock.wall_s;
        m.kept_deadline_ms = p_.clock.mono_ms + kKeptWaitMs;
    } else if (r.adopted && r.lost_since_s) {
        m.missed_since_s = r.lost_since_s;
        m.missed_why = Member::Missed::NodeDied;
    }
    if (r.adopted) {
        p_.metrics.resume_recovered += r.ids.size();
        LOG_INFO("connection %llu resumed %zu subscriptions of a dead node",
                 static_cast<unsigned long long>(m.conn->id), r.ids.size());
    }
    size_t asked = 0;
    for (const Binding& b : m.bindings) asked += b.failed() ? 0 : 1;
    if (!r.ok || r.ids.size() != asked || (!r.errors.empty() && r.errors.size() != asked)) {
        if (r.ok && p_.db) unsubscribe_made(std::move(r.ids));
        refuse(m, r.ok ? errors::kSubscriptionCountMismatch : r.error);
        return;
    }
    size_t next = 0;
    for (Binding& b : m.bindings) {
        if (b.failed()) continue;
        b.id = r.ids[next];
        if (b.id <= 0) {  // refused by the database: the client is told after the reply
            b.error = next < r.errors.size() ? std::move(r.errors[next]) : std::string(errors::kSubscriptionCountMismatch);
            b.id = --last_failed_id_;
        }
        ++next;
    }
    complete(m);
}

void JoinFlow::refuse(Member& m, const std::string& reason) {
    std::optional<std::string_view> ref;
    if (m.pending_ref) ref = *m.pending_ref;
    p_.out.reply(*m.conn, m.join_ref, ref, m.channel->topic, "error", payloads::reason(reason));
    p_.exit.remove_member(m, false);
}

void JoinFlow::unsubscribe_made(std::vector<int64_t> ids) {
    ids.erase(std::remove_if(ids.begin(), ids.end(), [](int64_t id) { return id <= 0; }), ids.end());
    if (!ids.empty()) p_.db->unsubscribe(std::move(ids));
}

// The cluster step: admitted once every peer routes the channel's broadcasts here. Its
// subscription ids route to it from now on: changes that arrive meanwhile wait in its
// replay, sent after the reply (an adopted id's changes were held until now).
void JoinFlow::complete(Member& m) {
    p_.changes.bind(m);
    if (p_.channels.wait_for_route(m)) routed(m);
}

void JoinFlow::on_channel_routed(const std::string& key) {
    for (Member* m : p_.channels.routed(key)) routed(*m);
}

// Rows adopted from a live node wait for what it kept (hub/kept_transfer), then the
// replay step (private channels that asked for one), then the admission.
void JoinFlow::routed(Member& m) {
    if (!m.kept_from.empty()) {
        awaiting_kept_[m.id] = &m;
        ask_kept(m);
        return;
    }
    after_kept(m);
}

// Asked once every row is live here: the slot holder routed the move's SUBSCRIBED, having
// handed this node first what the old node had not confirmed, so what it had confirmed
// is all in its keeping. Until then (and after) changes for the ids wait in m.replay.
void JoinFlow::ask_kept(Member& m) {
    if (m.kept_asked || m.kept_from.empty() || !awaiting_kept_.count(m.id)) return;
    KeptAsk ask;
    ask.id = m.id;
    for (const Binding& b : m.bindings) {
        if (b.failed()) continue;
        if (!b.live) return;
        ask.subscriptions.push_back(b.id);
    }
    m.kept_asked = true;
    if (p_.cluster) p_.cluster->ask_kept(m.kept_from, ask);
}

void JoinFlow::on_kept_handed(const std::string& node, KeptHandOver&& handed) {
    auto it = awaiting_kept_.find(handed.id);
    if (it == awaiting_kept_.end() || it->second->kept_from != node) return;  // left, or too late
    Member& m = *it->second;
    std::vector<int64_t> asked;
    for (const Binding& b : m.bindings)
        if (!b.failed()) asked.push_back(b.id);
    if (!kept_transfer::not_handed(asked, handed).empty()) {
        m.missed_since_s = m.kept_since_s;  // that node no longer had some of them
        m.missed_why = Member::Missed::NotHandedOver;
    } else if (handed.missed_since_s) {
        m.missed_since_s = handed.missed_since_s;
        m.missed_why = handed.missed_why <= static_cast<uint8_t>(Member::Missed::NotHandedOver)
                           ? static_cast<Member::Missed>(handed.missed_why)
                           : Member::Missed::Overflow;
    }
    p_.metrics.resume_recovered_changes += handed.changes.size();
    LOG_INFO("connection %llu got %zu kept changes of %zu subscriptions from %s",
             static_cast<unsigned long long>(m.conn->id), handed.changes.size(), handed.handed.size(), node.c_str());
    kept_transfer::merge(m.replay, std::move(handed.changes));
    awaiting_kept_.erase(it);
    m.kept_from.clear();
    after_kept(m);
}

void JoinFlow::expire_kept() {
    std::vector<Member*> late;
    for (auto& [id, m] : awaiting_kept_)
        if (m->kept_deadline_ms <= p_.clock.mono_ms) late.push_back(m);
    for (Member* m : late) {
        awaiting_kept_.erase(m->id);
        LOG_WARN("connection %llu: %s did not hand over the changes it kept for %s; telling the client",
                 static_cast<unsigned long long>(m->conn->id), m->kept_from.c_str(), m->channel->topic.c_str());
        m->missed_since_s = m->kept_since_s;
        m->missed_why = Member::Missed::NotHandedOver;
        m->kept_from.clear();
        p_.metrics.resume_not_handed_over++;
        after_kept(*m);
    }
}

void JoinFlow::after_kept(Member& m) {
    if (m.is_private() && m.replay_request.requested)
        p_.replay.start(m);
    else
        admit(m);
}

void JoinFlow::on_replay_result(ReplayResult&& r) {
    Member* m = p_.replay.take(r.ticket);
    if (!m) return;
    if (r.failure != ReplayResult::Failure::None) {
        refuse(*m, Replay::refusal(r));
        return;
    }
    admit(*m, &r);
}

void JoinFlow::admit(Member& m, const ReplayResult* replayed) {
    Connection& conn = *m.conn;
    m.joined = true;
    m.joined_wall_ms = p_.clock.wall_ms;
    p_.channels.add(m);
    std::optional<std::string_view> ref;
    if (m.pending_ref) ref = *m.pending_ref;
    p_.out.reply(conn, m.join_ref, ref, m.channel->topic, "ok", join_response(m.bindings));
    m.pending_ref.reset();
    for (const Binding& b : m.bindings)
        if (b.failed()) p_.out.system(m, "postgres_changes", "error", b.error);
    if (replayed) p_.replay.deliver(m, *replayed);

    if (m.presence_enabled) p_.presence.send_state(m);
    if (m.replication_ready) {
        // SQL broadcasts reach this node through the slot stream when it has a database.
        if (p_.db && p_.db->available())
            p_.out.system(m, "system", "ok", errors::kReplicationReady);
        else
            p_.out.system(m, "system", "error", errors::kReplicationUnavailable);
    }
    p_.changes.announce_if_live(m);
    for (const ChangeEvent& ev : m.replay)
        for (const ChangeGroup& g : ev.groups) p_.changes.send(m, ev.pos, g, nullptr);
    m.replay.clear();
    tell_missed(m);
}

// A member that resumed having missed changes, or came back after its window: the app
// must fetch what changed since then. Rows whose node died are told once they are live
// (Changes::announce_if_live): what the slot holder hands over comes before that.
void JoinFlow::tell_missed(Member& m) {
    if (!m.missed_since_s || (m.missed_why == Member::Missed::NodeDied && !m.announced)) return;
    std::string since = iso8601_utc(m.missed_since_s);
    std::string message = m.missed_why == Member::Missed::Window     ? errors::resume_window_passed(p_.cfg.resume_window_s, since)
                          : m.missed_why == Member::Missed::Claims   ? errors::resume_claims_changed(since)
                          : m.missed_why == Member::Missed::Expired  ? errors::resume_token_expired(since)
                          : m.missed_why == Member::Missed::NodeDied ? errors::resume_node_died(since)
                          : m.missed_why == Member::Missed::NotHandedOver ? errors::resume_not_handed_over(since)
                                                                     : errors::resume_overflowed(since);
    p_.out.system(m, "postgres_changes", "error", message);
    m.missed_since_s = 0;
}

bool JoinFlow::waits_on(const Channel& ch, const Member* except) const {
    for (const auto& [id, p] : pending_)
        if (p->channel == &ch && p != except) return true;
    return false;
}

}  // namespace rt
