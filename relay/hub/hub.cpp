// The hub: connections, the dispatch of client messages (heartbeat, join, leave,
// broadcast, presence, access_token), a member's exit, and the periodic tick. Each
// feature's logic is in its own file (join, channels, presence, changes, resume, auth).
#include "relay/hub/hub.h"

#include "relay/core/log.h"
#include "relay/protocol/broadcast_push.h"
#include "relay/protocol/errors.h"
#include "relay/protocol/payloads.h"

namespace rt {

Hub::Hub(const Config& cfg, Transport& transport, Metrics& metrics, DbPort* db, ClusterPort* cluster,
         AccessPort* access)
    : cfg_(cfg),
      metrics_(metrics),
      auth_(cfg.jwt_secret),
      out_(cfg.limits, transport, metrics),
      channels_(out_, metrics, cluster, replay_),
      presence_(cfg.limits, channels_, out_, metrics, cluster),
      resume_(cfg, clock_, metrics, db),
      changes_(out_, metrics, db, replay_, resume_, ledger_),
      access_(metrics, access),
      stored_(channels_, out_, metrics, access),
      join_({cfg, clock_, metrics, out_, channels_, presence_, changes_, resume_, auth_, access_, stored_, db, cluster,
             *this}),
      cluster_(cluster) {}

Hub::~Hub() = default;

// -- connections ----------------------------------------------------------------------

Connection* Hub::open(void* transport, phoenix::Vsn vsn, Claims claims, std::string token, std::string headers_json) {
    auto conn = std::make_unique<Connection>();
    conn->id = next_conn_id_++;
    conn->transport = transport;
    conn->vsn = vsn;
    conn->claims = std::move(claims);
    conn->token = std::move(token);
    conn->headers_json = std::move(headers_json);
    conn->events = RateLimiter(cfg_.limits.max_events_per_second);
    conn->joins = RateLimiter(cfg_.limits.max_joins_per_second);
    conn->last_rx_ms = clock_.mono_ms;
    Connection* raw = conn.get();
    connections_.emplace(raw->id, std::move(conn));
    metrics_.connections.store(static_cast<int64_t>(connections_.size()));
    metrics_.connections_total++;
    return raw;
}

void Hub::closed(Connection& conn) {
    conn.closing = true;
    while (!conn.members.empty()) {
        Member& m = *conn.members.back();
        if (!draining_) park(m);  // a draining node keeps its rows for its next run
        remove_member(m, false);
    }
    conn.queue.clear();
    changes_.dropped(conn);
    connections_.erase(conn.id);
    metrics_.connections.store(static_cast<int64_t>(connections_.size()));
}

// A joined member's postgres_changes subscriptions outlive its socket for the resume
// window: they stay in the decoder, and what they match is kept for the client's return.
void Hub::park(Member& m) {
    if (!m.joined || m.bindings.empty()) return;
    if (!resume_.park(m, m.claims(), changes_.park(m))) return;
    for (Binding& b : m.bindings) b.id = 0;  // parked: not unsubscribed by its exit
}

void Hub::tick() {
    std::vector<std::pair<Member*, std::string>> expired;
    std::vector<Connection*> idle;
    const int64_t idle_ms = static_cast<int64_t>(cfg_.limits.idle_timeout_s) * 1000;
    std::vector<Connection*> stalled;
    for (auto& [id, conn] : connections_) {
        if (conn->closing) continue;
        if (clock_.mono_ms - conn->last_rx_ms > idle_ms) {
            idle.push_back(conn.get());
            continue;
        }
        if (!conn->queued_changes.empty()) stalled.push_back(conn.get());
        for (auto& m : conn->members)
            if (auto why = Auth::expired(*m, clock_.wall_s)) expired.emplace_back(m.get(), std::move(*why));
    }
    for (auto& [m, why] : expired) close_with_error(*m, why);
    for (Connection* c : idle) {
        c->closing = true;
        out_.close(*c, 1000, "idle timeout");
    }
    cut_off_unwritten(stalled);
    resume_.expire();
    join_.retry_adoptions();
    join_.expire_kept();
}

// A peer adopted subscriptions parked here: what they kept goes to it.
void Hub::hand_kept(const std::string& node, const KeptAsk& ask) {
    KeptHandOver handed = resume_.hand_over(ask);
    if (cluster_) cluster_->hand_kept(node, handed);
}

// A change frame that waited in a queue longer than Config::unwritten_cutoff_ms holds back
// this node's confirmations (hub/write_ledger), and past the slot holder's gone delay the
// holder would give up on the whole node: its client is cut off as a slow one (its
// subscriptions parked with what it was not sent, for it to resume).
void Hub::cut_off_unwritten(std::vector<Connection*>& stalled) {
    for (Connection* c : stalled) {
        changes_.written(*c);
        if (c->queued_changes.empty() || !c->queued_changes.front().change) continue;
        const int64_t since = ledger_.began_ms(c->queued_changes.front().change);
        if (!since || clock_.mono_ms - since <= cfg_.unwritten_cutoff_ms()) continue;
        metrics_.slow_client_disconnects++;
        LOG_INFO("closing connection %llu: a change waited %lld ms to be written (slow client)",
                 static_cast<unsigned long long>(c->id), static_cast<long long>(clock_.mono_ms - since));
        c->closing = true;
        out_.close(*c, 1008, "the client reads too slowly");
    }
}

// As Supabase's periodic re-check of a channel's token would, at once: a key removed from
// the JWKS no longer vouches for the channels it let in.
void Hub::set_jwks(std::shared_ptr<const Jwks> jwks) {
    auth_.set_jwks(std::move(jwks));
    std::vector<std::pair<Member*, std::string>> revoked;
    for (auto& [id, conn] : connections_) {
        if (conn->closing) continue;
        for (auto& m : conn->members)
            if (auto why = auth_.revoked(*m)) revoked.emplace_back(m.get(), std::move(*why));
    }
    for (auto& [m, why] : revoked) close_with_error(*m, why);
}

void Hub::begin_drain() {
    draining_ = true;
    changes_.keep_rows();
    resume_.keep_rows();
}

// As a Supabase node drains (Phoenix's socket drainer): the socket closes with 1012
// (service restart) and its channels get nothing, so realtime-js reconnects and rejoins
// them, here once this node is back or on another.
size_t Hub::drain(size_t max) {
    size_t open = 0;
    for (auto& [id, conn] : connections_) {
        if (conn->closing) continue;
        if (max == 0) {
            ++open;
            continue;
        }
        --max;
        conn->closing = true;
        out_.close(*conn, kServiceRestart, "service restart");
    }
    return open;
}

// -- the inspector --------------------------------------------------------------------

bool Hub::ask_peers(const InspectQuery& q) {
    if (!cluster_) return false;
    cluster_->ask_inspect(q);
    return true;
}

void Hub::answer_inspect(const std::string& node, const InspectQuery& q) {
    if (cluster_) cluster_->answer_inspect(node, InspectAnswer{q.id, inspect_local(q)});
}

// -- inbound --------------------------------------------------------------------------

void Hub::receive(Connection& conn, std::string_view data, bool binary) {
    if (conn.closing) return;
    conn.last_rx_ms = clock_.mono_ms;
    metrics_.messages_in++;
    metrics_.bytes_in += data.size();

    phoenix::Inbound msg;
    std::string error;
    bool ok = binary ? phoenix::decode_binary(data, msg, error) : phoenix::decode_text(data, conn.vsn, msg, error);
    if (!ok) {
        metrics_.protocol_errors++;
        // Answer on the socket's own topic; bad input from a flood is dropped silently.
        if (conn.events.allow(clock_.mono_ms))
            out_.push(conn, std::nullopt, "phoenix", "phx_error", payloads::reason(error));
        else
            metrics_.rate_limited++;
        return;
    }
    dispatch(conn, msg);
}

void Hub::dispatch(Connection& conn, phoenix::Inbound& msg) {
    if (msg.topic == "phoenix") {
        handle_heartbeat(conn, msg);
        return;
    }
    if (msg.event == "phx_join") {
        if (draining_)
            out_.error_reply(conn, msg, errors::kRestarting);
        else
            join_.handle(conn, msg);
        return;
    }
    Member* m = conn.member(msg.topic);
    if (!conn.events.allow(clock_.mono_ms)) {
        metrics_.rate_limited++;
        if (m && m->joined) close_with_error(*m, errors::kMessageRateLimit);
        return;
    }
    // A join still waiting for the database can be left: its subscription result then
    // finds nobody and unsubscribes the ids.
    if (!m || (!m->joined && msg.event != "phx_leave")) {
        metrics_.protocol_errors++;
        out_.error_reply(conn, msg, errors::kUnmatchedTopic);
        return;
    }
    if (m->joined && m->is_private()) {
        // Pushes of a private member wait while a check of its policies runs (hub/access).
        auto held = std::make_unique<phoenix::Inbound>(std::move(msg));
        if (!access_.must_wait(*m, held)) dispatch_member(conn, *m, *held);
        return;
    }
    dispatch_member(conn, *m, msg);
}

bool Hub::dispatch_member(Connection& conn, Member& m, phoenix::Inbound& msg) {
    if (msg.event == "phx_leave") {
        handle_leave(conn, m, msg);
        return false;
    }
    if (msg.event == "broadcast")
        handle_broadcast(conn, m, msg);
    else if (msg.event == "presence") {
        if (auto why = presence_.handle(conn, m, msg)) {
            close_with_error(m, *why);
            return false;
        }
    }
    else if (msg.event == "access_token")
        return handle_access_token(m, msg);
    else {
        metrics_.protocol_errors++;
        out_.error_reply(conn, msg, errors::unknown_event(msg.event));
    }
    return true;
}

void Hub::handle_heartbeat(Connection& conn, const phoenix::Inbound& msg) {
    if (msg.event == "heartbeat") {
        out_.reply(conn, msg, "ok", "{}");
        return;
    }
    metrics_.protocol_errors++;
    out_.error_reply(conn, msg, errors::unknown_event(msg.event) + " on topic phoenix");
}

void Hub::handle_leave(Connection& conn, Member& m, const phoenix::Inbound& msg) {
    out_.reply(conn, msg, "ok", "{}");
    remove_member(m, true);
}

// A private member may send only if its policies let it write broadcasts; a refused send
// gets no answer, not even the ack (Supabase's).
void Hub::handle_broadcast(Connection& conn, Member& m, const phoenix::Inbound& msg) {
    BroadcastMsg b;
    if (!read_broadcast_push(msg, m.channel->topic, b)) {
        metrics_.protocol_errors++;
        out_.error_reply(conn, msg, errors::kBroadcastShape);
        return;
    }
    if (m.is_private() && !m.policies.broadcast_write.value_or(false)) {
        metrics_.authorization_denied++;
        return;
    }
    b.is_private = m.is_private();
    // Over the payload limit: dropped, the channel and the socket stay (Supabase's answer).
    if (static_cast<int64_t>(b.payload.size()) > cfg_.limits.max_payload_bytes) {
        metrics_.dropped_messages++;
        if (m.ack) {
            std::string response;
            json::append_string(response, errors::kPayloadTooLarge);
            out_.reply(conn, msg, "error", response);
        }
        return;
    }
    channels_.publish(b, m.self ? nullptr : &m, true);
    if (m.ack) out_.reply(conn, msg, "ok", "{}");
}

// A new token: the channel is authorized with it, and its subscriptions' rows take its
// claims, so row level security follows the new claims from the UPDATE's commit on. A
// private member's write policies are reset and its read checked again; the read it had
// stays in force until the answer (as Supabase's fastlane keeps it). False: m was closed.
bool Hub::handle_access_token(Member& m, const phoenix::Inbound& msg) {
    std::string why;
    const std::string before = m.claims().json;
    const std::string before_token = m.access_token;
    if (!auth_.refresh(m, msg.payload, clock_.wall_s, why)) {
        close_with_error(m, why);
        return false;
    }
    if (m.joined && m.claims().json != before) changes_.claims_changed(m, m.claims().json);
    if (m.is_private() && m.access_token != before_token) {
        m.policies.broadcast_write.reset();
        m.policies.presence_write.reset();
        access_.recheck(m);
    }
    return true;
}

// -- private channels' checks answered --------------------------------------------------

void Hub::on_access_result(const AccessResult& r) {
    std::optional<Access::Pending> p = access_.take(r.ticket);
    if (!p) return;  // its member left
    switch (p->purpose) {
        case Access::Purpose::Join: join_.on_read_checked(*p->member, r); return;
        case Access::Purpose::Http: p->done(r); return;
        case Access::Purpose::Refresh:
            if (!refreshed(*p->member, p->member->policies, r)) return;
            break;
        case Access::Purpose::Write: written(*p->member, r); break;
    }
    drain(*p->member);
}

void Hub::authorize_http_broadcast(const Claims& caller, std::string headers_json, std::string topic,
                                   Access::HttpDone done) {
    if (!access_.available()) {
        AccessResult none;
        none.failure = AccessResult::Failure::Unreachable;
        done(none);
        return;
    }
    access_.check_http(caller.json, std::move(headers_json), std::move(topic), std::move(done));
}

// A failed write check is not kept, and the push that asked for it is dropped (a track is
// answered with an error, as Supabase does); the next one checks again.
void Hub::written(Member& m, const AccessResult& r) {
    Access::keep_write(m, r);
    if (r.failure == AccessResult::Failure::None || m.waiting.empty()) return;
    std::unique_ptr<phoenix::Inbound> trigger = std::move(m.waiting.front());
    m.waiting.erase(m.waiting.begin());
    if (trigger->event == "presence") out_.reply(*m.conn, *trigger, "error", "{}");
}

// False when the member was shut down: its new token no longer lets it read.
bool Hub::refreshed(Member& m, const Policies& before, const AccessResult& r) {
    std::optional<std::string> why = Access::refresh_shutdown(before, r, topic::sub_topic(m.channel->topic));
    if (why) {
        metrics_.authorization_denied++;
        close_with_error(m, *why);
        return false;
    }
    m.policies.broadcast_read = r.policies.broadcast_read;
    m.policies.presence_read = r.policies.presence_read;
    return true;
}

// The pushes that waited for the check, in order, until one starts another check (it and
// those after it wait again) or the member is gone.
void Hub::drain(Member& m) {
    std::vector<std::unique_ptr<phoenix::Inbound>> queue = std::move(m.waiting);
    m.waiting.clear();
    for (auto& msg : queue) {
        if (access_.must_wait(m, msg)) continue;
        if (!dispatch_member(*m.conn, m, *msg)) return;
    }
}

// -- a member's exit ------------------------------------------------------------------

void Hub::remove_member(Member& m, bool send_close) {
    Connection& conn = *m.conn;
    Channel& ch = *m.channel;
    if (m.joined) {
        presence_.untrack(m);
        if (send_close && !conn.closing) out_.push(conn, m.join_ref, ch.topic, "phx_close", "{}", m.join_ref);
        channels_.remove(m);
    } else {
        join_.forget(m);  // its subscribe result will find nobody and undo itself
        stored_.forget(m);
        channels_.stop_waiting(m);
    }
    access_.forget(m);
    changes_.release(m);
    // The channel lives on while a join being prepared still points at it.
    if (ch.members.empty() && ch.routing.empty() && ch.replaying.empty())
        channels_.release(ch, join_.waits_on(ch, &m));
    for (auto it = conn.members.begin(); it != conn.members.end(); ++it) {
        if (it->get() == &m) {
            conn.members.erase(it);
            break;
        }
    }
}

void Hub::close_with_error(Member& m, std::string_view message) {
    out_.system(m, "system", "error", message);
    remove_member(m, true);
}

// -- from other threads ---------------------------------------------------------------

void Hub::publish_broadcast(const BroadcastMsg& msg) { channels_.publish(msg, nullptr, true); }

void Hub::deliver_broadcast(const BroadcastMsg& msg) { channels_.publish(msg, nullptr, false); }

void Hub::deliver_change(const ChangeEvent& ev) {
    ledger_.begin(clock_.mono_ms);
    changes_.deliver(ev);
}

// What the loop was given before it and has no frame waiting is told at once (a node
// without subscribers of it confirms as it processes).
void Hub::report_when_written(SlotProgress& to, uint64_t commit_lsn) {
    ledger_.report(to, commit_lsn);
    ledger_.confirm(held_floor());
}

void Hub::drop_lost_subscriptions(const std::unordered_set<int64_t>& present) {
    for (Member* m : changes_.lost(present)) {
        LOG_WARN("channel %s of connection %llu lost its subscriptions while this node was cut off; asking it to rejoin",
                 m->channel->topic.c_str(), static_cast<unsigned long long>(m->conn->id));
        out_.system(*m, "postgres_changes", "error", errors::kSubscriptionLost);
        out_.push(*m->conn, m->join_ref, m->channel->topic, "phx_error", "{}", m->join_ref);
        remove_member(*m, false);
    }
}

void Hub::apply_remote_presence(const std::string& node, const PresenceDelta& delta) {
    presence_.apply_remote(node, delta);
}

void Hub::remove_remote_presence(const std::string& node) { presence_.remove_remote(node); }

void Hub::replace_remote_presence(const std::string& node, const std::vector<PresenceDelta>& entries) {
    presence_.replace_remote(node, entries);
}

}  // namespace rt
