// The hub: connections, channels and memberships; the dispatch of client messages
// (heartbeat, join, leave, broadcast, presence, access_token) and the fan-out of
// broadcasts and presence diffs. Postgres changes are in changes.cpp.
#include "relay/hub/hub.h"

#include <algorithm>
#include <random>

#include "relay/core/ids.h"
#include "relay/core/log.h"

namespace rt {
namespace {

constexpr std::string_view kTopicPrefix = "realtime:";

std::string sub_topic(std::string_view topic) {
    return std::string(topic.substr(topic.rfind(kTopicPrefix, 0) == 0 ? kTopicPrefix.size() : 0));
}

std::string system_payload(std::string_view extension, std::string_view status, std::string_view message,
                           std::string_view channel) {
    std::string p = "{\"extension\":";
    json::append_string(p, extension);
    p += ",\"status\":";
    json::append_string(p, status);
    p += ",\"message\":";
    json::append_string(p, message);
    p += ",\"channel\":";
    json::append_string(p, channel);
    p.push_back('}');
    return p;
}

// The broadcast event payload clients receive: {"type","event","payload"[,"meta"]}.
std::string broadcast_payload(const BroadcastMsg& msg) {
    std::string p = "{\"type\":\"broadcast\",\"event\":";
    json::append_string(p, msg.event);
    p += ",\"payload\":";
    p += msg.payload;
    if (!msg.meta_json.empty()) {
        p += ",\"meta\":";
        p += msg.meta_json;
    }
    p.push_back('}');
    return p;
}

}  // namespace

Member* Connection::member(std::string_view topic) {
    for (auto& m : members)
        if (m->channel->topic == topic) return m.get();
    return nullptr;
}

Hub::Hub(const Config& cfg, Transport& transport, Metrics& metrics, DbPort* db, ClusterPort* cluster)
    : cfg_(cfg), transport_(transport), metrics_(metrics), db_(db), cluster_(cluster), jwt_(cfg.jwt_secret) {
    std::mt19937_64 rng{std::random_device{}()};
    next_ref_ = rng() & 0xffffffffffULL;  // phx_refs differ across restarts of a node
}

Hub::~Hub() = default;

// -- connections ----------------------------------------------------------------------

Connection* Hub::open(void* transport, phoenix::Vsn vsn, Claims claims, std::string token) {
    auto conn = std::make_unique<Connection>();
    conn->id = next_conn_id_++;
    conn->transport = transport;
    conn->vsn = vsn;
    conn->claims = std::move(claims);
    conn->token = std::move(token);
    conn->events = RateLimiter(cfg_.limits.max_events_per_second);
    conn->joins = RateLimiter(cfg_.limits.max_joins_per_second);
    conn->last_rx_ms = now_ms_;
    Connection* raw = conn.get();
    connections_.emplace(raw->id, std::move(conn));
    metrics_.connections.store(static_cast<int64_t>(connections_.size()));
    metrics_.connections_total++;
    return raw;
}

void Hub::closed(Connection& conn) {
    conn.closing = true;
    while (!conn.members.empty()) remove_member(*conn.members.back(), false);
    conn.queue.clear();
    connections_.erase(conn.id);
    metrics_.connections.store(static_cast<int64_t>(connections_.size()));
}

void Hub::tick() {
    std::vector<Member*> expired;
    std::vector<Connection*> idle;
    const int64_t idle_ms = static_cast<int64_t>(cfg_.limits.idle_timeout_s) * 1000;
    for (auto& [id, conn] : connections_) {
        if (conn->closing) continue;
        if (now_ms_ - conn->last_rx_ms > idle_ms) {
            idle.push_back(conn.get());
            continue;
        }
        for (auto& m : conn->members)
            if (m->joined && m->token_exp <= now_s_) expired.push_back(m.get());
    }
    for (Member* m : expired)
        close_channel_with_error(*m, "Token has expired " + std::to_string(now_s_ - m->token_exp) + " seconds ago");
    for (Connection* c : idle) {
        c->closing = true;
        transport_.close(*c, 1000, "idle timeout");
    }
    expire_orphans();
}

void Hub::shutdown() {
    std::vector<Connection*> all;
    for (auto& [id, conn] : connections_) all.push_back(conn.get());
    for (Connection* c : all) {
        for (auto& m : c->members) {
            if (m->joined) push(*c, m->join_ref, m->channel->topic, "phx_close", "{}", m->join_ref);
        }
        c->closing = true;
        transport_.close(*c, 1001, "server shutting down");
    }
}

// -- inbound --------------------------------------------------------------------------

void Hub::receive(Connection& conn, std::string_view data, bool binary) {
    if (conn.closing) return;
    conn.last_rx_ms = now_ms_;
    metrics_.messages_in++;
    metrics_.bytes_in += data.size();

    phoenix::Inbound msg;
    std::string error;
    bool ok = binary ? phoenix::decode_binary(data, msg, error) : phoenix::decode_text(data, conn.vsn, msg, error);
    if (!ok) {
        metrics_.protocol_errors++;
        // Answer on the socket's own topic; bad input from a flood is dropped silently.
        if (conn.events.allow(now_ms_)) {
            std::string payload = "{\"reason\":";
            json::append_string(payload, error);
            payload.push_back('}');
            push(conn, std::nullopt, "phoenix", "phx_error", payload);
        } else {
            metrics_.rate_limited++;
        }
        return;
    }
    handle(conn, msg);
}

void Hub::handle(Connection& conn, phoenix::Inbound& msg) {
    if (msg.topic == "phoenix") {
        handle_heartbeat(conn, msg);
        return;
    }
    if (msg.event == "phx_join") {
        handle_join(conn, msg);
        return;
    }
    Member* m = conn.member(msg.topic);
    if (!conn.events.allow(now_ms_)) {
        metrics_.rate_limited++;
        if (m && m->joined) close_channel_with_error(*m, "Too many messages per second");
        return;
    }
    // A join still waiting for the database can be left: its subscription result then
    // finds nobody and unsubscribes the ids.
    if (!m || (!m->joined && msg.event != "phx_leave")) {
        metrics_.protocol_errors++;
        send_error_reply(conn, msg, "unmatched topic");
        return;
    }
    if (msg.event == "phx_leave")
        handle_leave(conn, *m, msg);
    else if (msg.event == "broadcast")
        handle_broadcast(conn, *m, msg);
    else if (msg.event == "presence")
        handle_presence(conn, *m, msg);
    else if (msg.event == "access_token")
        handle_access_token(conn, *m, msg);
    else {
        metrics_.protocol_errors++;
        send_error_reply(conn, msg, "unknown event \"" + msg.event + "\"");
    }
}

void Hub::handle_heartbeat(Connection& conn, const phoenix::Inbound& msg) {
    if (msg.event == "heartbeat") {
        send_reply(conn, msg, "ok", "{}");
        return;
    }
    metrics_.protocol_errors++;
    send_error_reply(conn, msg, "unknown event \"" + msg.event + "\" on topic phoenix");
}

void Hub::handle_join(Connection& conn, phoenix::Inbound& msg) {
    if (msg.topic.rfind(kTopicPrefix, 0) != 0) {
        send_error_reply(conn, msg, "unmatched topic");
        return;
    }
    if (msg.topic.size() == kTopicPrefix.size()) {
        send_error_reply(conn, msg, "TopicNameRequired: You must provide a topic name");
        return;
    }
    if (!conn.joins.allow(now_ms_)) {
        metrics_.rate_limited++;
        send_error_reply(conn, msg, "ClientJoinRateLimitReached: Too many joins per second");
        return;
    }
    Member* existing = conn.member(msg.topic);
    if (!existing && static_cast<int>(conn.members.size()) >= cfg_.limits.max_channels_per_client) {
        metrics_.rate_limited++;
        send_error_reply(conn, msg, "ChannelRateLimitReached: Too many channels");
        return;
    }

    const json::Value* payload = msg.payload;
    const json::Value* config = payload ? json::member(*payload, "config") : nullptr;

    // A join may bring its own token; either way the token must still be valid.
    std::unique_ptr<Claims> own_claims;
    std::string token = conn.token;
    Claims claims = conn.claims;
    std::string_view given = payload ? json::string_or(json::member(*payload, "access_token"), "") : "";
    if (!given.empty() && given != conn.token) {
        JwtResult r = jwt_.verify(given, now_s_);
        if (!r.ok) {
            std::string reason = r.error == kJwtExpired
                                     ? "Token has expired " + std::to_string(now_s_ - r.claims.exp) + " seconds ago"
                                     : r.error;
            send_error_reply(conn, msg, "InvalidJWTToken: " + reason);
            return;
        }
        own_claims = std::make_unique<Claims>(r.claims);
        claims = r.claims;
        token = std::string(given);
    } else if (claims.exp <= now_s_) {
        send_error_reply(conn, msg, "InvalidJWTToken: Token has expired " +
                                        std::to_string(now_s_ - claims.exp) + " seconds ago");
        return;
    }

    if (json::bool_or(config ? json::member(*config, "private") : nullptr, false)) {
        send_error_reply(conn, msg, "Unauthorized: You do not have permissions to read from this Channel topic: " +
                                        sub_topic(msg.topic));
        return;
    }

    auto m = std::make_unique<Member>();
    std::string error;
    if (!parse_bindings(config, m->bindings, error)) {
        send_error_reply(conn, msg, error);
        return;
    }
    if (!m->bindings.empty() && (!db_ || !db_->available())) {
        send_error_reply(conn, msg, "Postgres Changes are not available: this relay has no database (--db)");
        return;
    }

    if (existing) remove_member(*existing, true);  // a second join replaces the first

    const json::Value* bc = config ? json::member(*config, "broadcast") : nullptr;
    const json::Value* pr = config ? json::member(*config, "presence") : nullptr;
    m->id = next_member_id_++;
    m->conn = &conn;
    m->join_ref = msg.join_ref.value_or(msg.ref.value_or(""));
    m->self = json::bool_or(bc ? json::member(*bc, "self") : nullptr, false);
    m->ack = json::bool_or(bc ? json::member(*bc, "ack") : nullptr, false);
    m->replication_ready = json::bool_or(bc ? json::member(*bc, "replication_ready") : nullptr, false);
    m->presence_enabled = json::bool_or(pr ? json::member(*pr, "enabled") : nullptr, false);
    m->presence_key = std::string(json::string_or(pr ? json::member(*pr, "key") : nullptr, ""));
    if (m->presence_key.empty()) m->presence_key = random_uuid();
    m->access_token = token;
    m->token_exp = claims.exp;
    m->claims = std::move(own_claims);
    m->pending_ref = msg.ref;

    Channel& ch = channel(msg.topic);
    m->channel = &ch;  // not in ch.members until joined
    Member* raw = m.get();
    conn.members.push_back(std::move(m));

    if (raw->bindings.empty() || try_adopt(*raw, claims)) {
        complete_join(*raw);
        return;
    }
    std::vector<BindingSpec> specs;
    for (const Binding& b : raw->bindings) specs.push_back(b.spec);
    pending_joins_[raw->id] = raw;
    db_->subscribe(raw->id, std::move(specs), claims.json);
}

bool Hub::parse_bindings(const json::Value* config, std::vector<Binding>& out, std::string& error) {
    const json::Value* list = config ? json::member(*config, "postgres_changes") : nullptr;
    if (!list || list->IsNull()) return true;
    if (!list->IsArray()) {
        error = "postgres_changes must be a list of {event, schema, table, filter}";
        return false;
    }
    for (const json::Value& item : list->GetArray()) {
        if (!item.IsObject()) {
            error = "each postgres_changes binding must be an object";
            return false;
        }
        Binding b;
        std::string event(json::string_or(json::member(item, "event"), "*"));
        for (char& c : event) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
        b.spec.event = event == "INSERT" || event == "UPDATE" || event == "DELETE" ? event : "*";
        b.spec.schema = std::string(json::string_or(json::member(item, "schema"), "public"));
        b.spec.table = std::string(json::string_or(json::member(item, "table"), ""));
        b.spec.filter = std::string(json::string_or(json::member(item, "filter"), ""));
        if (b.spec.table.empty() || b.spec.table == "*") {
            error = "postgres_changes binding on schema \"" + b.spec.schema +
                    "\" needs a table: subscribing to every table of a schema is not supported yet";
            return false;
        }
        if (b.spec.schema == "*") {
            error = "postgres_changes binding needs a schema name, not \"*\"";
            return false;
        }
        b.echo_json = json::stringify(item);
        out.push_back(std::move(b));
    }
    return true;
}

void Hub::complete_join(Member& m) {
    Channel& ch = *m.channel;
    if (cluster_ && !ch.interest) {
        // The first member here: peers must learn to send the channel's broadcasts to
        // this node before the join is answered, or its first messages would be lost.
        ch.interest = true;
        ch.routed = false;
        cluster_->channel_interest(ch.topic, true);
    }
    if (!ch.routed) {
        ch.routing.push_back(&m);
        return;
    }
    admit(m);
}

void Hub::on_channel_routed(const std::string& topic) {
    auto it = channels_.find(topic);
    if (it == channels_.end() || it->second->routed) return;
    Channel& ch = *it->second;
    ch.routed = true;
    std::vector<Member*> waiting;
    waiting.swap(ch.routing);
    for (Member* m : waiting) admit(*m);
}

void Hub::admit(Member& m) {
    Connection& conn = *m.conn;
    Channel& ch = *m.channel;
    m.joined = true;
    m.slot = ch.members.size();
    ch.members.push_back(&m);
    register_bindings(m);

    std::string response = "{\"postgres_changes\":[";
    for (size_t i = 0; i < m.bindings.size(); ++i) {
        if (i) response.push_back(',');
        const Binding& b = m.bindings[i];
        response += "{\"id\":" + std::to_string(b.id);
        std::string_view echo = b.echo_json;
        if (echo.size() > 2) {
            response.push_back(',');
            response.append(echo.substr(1, echo.size() - 2));
        }
        response.push_back('}');
    }
    response += "]}";
    std::optional<std::string_view> ref;
    if (m.pending_ref) ref = *m.pending_ref;
    send_reply(conn, m.join_ref, ref, ch.topic, "ok", response);
    m.pending_ref.reset();

    if (m.presence_enabled) push(conn, m.join_ref, ch.topic, "presence_state", presence_.state_json(ch.topic));
    if (m.replication_ready) {
        // SQL broadcasts reach this node through the slot stream when it has a database.
        if (db_ && db_->available())
            send_system(m, "system", "ok", "Replication connection established");
        else
            send_system(m, "system", "error", "Replication is not available: this relay has no database (--db)");
    }
    announce_if_live(m);
    for (const ChangeEvent& ev : m.replay) send_change(m, ev, nullptr);
    m.replay.clear();
}

void Hub::handle_leave(Connection& conn, Member& m, const phoenix::Inbound& msg) {
    send_reply(conn, msg, "ok", "{}");
    remove_member(m, true);
}

void Hub::remove_member(Member& m, bool send_close) {
    Connection& conn = *m.conn;
    Channel& ch = *m.channel;
    if (m.joined) {
        untrack(m);
        if (send_close && !conn.closing) push(conn, m.join_ref, ch.topic, "phx_close", "{}", m.join_ref);
        // O(1) removal: the last member takes the leaver's slot.
        Member* last = ch.members.back();
        ch.members[m.slot] = last;
        last->slot = m.slot;
        ch.members.pop_back();
    } else {
        pending_joins_.erase(m.id);  // its subscribe result will find nobody and undo itself
        ch.routing.erase(std::remove(ch.routing.begin(), ch.routing.end(), &m), ch.routing.end());
    }
    release_bindings(m);
    // The cluster routes a channel's messages here while it has members; the channel
    // itself lives on while a pending join still points at it.
    if (ch.interest && ch.members.empty() && ch.routing.empty()) {
        ch.interest = false;
        ch.routed = true;
        cluster_->channel_interest(ch.topic, false);
    }
    if (ch.members.empty() && ch.routing.empty()) {
        bool referenced = false;
        for (auto& [id, p] : pending_joins_)
            if (p->channel == &ch && p != &m) referenced = true;
        if (!referenced) {
            channels_.erase(std::string(ch.topic));
            metrics_.channels.store(static_cast<int64_t>(channels_.size()));
        }
    }
    for (auto it = conn.members.begin(); it != conn.members.end(); ++it) {
        if (it->get() == &m) {
            conn.members.erase(it);
            break;
        }
    }
}

void Hub::close_channel_with_error(Member& m, std::string_view message) {
    send_system(m, "system", "error", message);
    remove_member(m, true);
}

Channel& Hub::channel(const std::string& topic) {
    auto it = channels_.find(topic);
    if (it != channels_.end()) return *it->second;
    auto ch = std::make_unique<Channel>();
    ch->topic = topic;
    Channel& ref = *ch;
    channels_.emplace(topic, std::move(ch));
    metrics_.channels.store(static_cast<int64_t>(channels_.size()));
    return ref;
}

const Claims& Hub::claims_of(const Member& m) const { return m.claims ? *m.claims : m.conn->claims; }

// -- broadcast ------------------------------------------------------------------------

void Hub::handle_broadcast(Connection& conn, Member& m, const phoenix::Inbound& msg) {
    BroadcastMsg b;
    b.topic = m.channel->topic;
    if (msg.binary) {
        b.event = msg.user_event;
        b.payload = msg.user_payload;
        b.json_payload = msg.json_payload;
        b.binary_origin = true;
        if (!msg.metadata.empty()) {
            json::Document meta;
            if (json::parse(meta, msg.metadata) && meta.IsObject()) b.meta_json = msg.metadata;
        }
    } else {
        const json::Value* event = msg.payload ? json::member(*msg.payload, "event") : nullptr;
        if (!event || !event->IsString()) {
            metrics_.protocol_errors++;
            send_error_reply(conn, msg, "broadcast needs a payload {\"type\":\"broadcast\",\"event\":\"...\",\"payload\":{...}}");
            return;
        }
        b.event = event->GetString();
        const json::Value* inner = json::member(*msg.payload, "payload");
        b.payload = inner ? json::stringify(*inner) : "{}";
    }
    fanout_broadcast(*m.channel, b, m.self ? nullptr : &m);
    if (cluster_) cluster_->publish_broadcast(b);
    if (m.ack) send_reply(conn, msg, "ok", "{}");
}

void Hub::deliver_broadcast(const BroadcastMsg& msg) {
    if (msg.pos.valid()) {
        if (msg.pos <= delivered_) {
            metrics_.changes_duplicate++;
            return;
        }
        delivered_ = msg.pos;
    }
    // A private message (realtime.send's default) is for private channels only, and
    // none can be joined until their authorization exists: never to public members.
    if (msg.is_private) return;
    auto it = channels_.find(msg.topic);
    if (it == channels_.end()) return;
    fanout_broadcast(*it->second, msg, nullptr);
}

void Hub::fanout_broadcast(Channel& ch, const BroadcastMsg& msg, const Member* skip) {
    metrics_.broadcasts++;
    FrameRef v1, v2_text, v2_binary;
    bool v2_binary_ok = true;
    std::string payload;  // the text form's payload, built on first use
    auto text_frame = [&](phoenix::Vsn vsn) {
        if (payload.empty()) payload = broadcast_payload(msg);
        std::string buf = frame_buffer(payload.size() + msg.topic.size() + 48);
        phoenix::encode(buf, vsn, std::nullopt, std::nullopt, msg.topic, "broadcast", payload);
        return make_frame(std::move(buf), false);
    };
    for (Member* m : ch.members) {
        if (m == skip) continue;
        Connection& conn = *m->conn;
        FrameRef* frame = nullptr;
        if (conn.vsn == phoenix::Vsn::V1) {
            if (!msg.json_payload) {  // raw bytes cannot travel in JSON
                metrics_.dropped_messages++;
                continue;
            }
            if (!v1) v1 = text_frame(phoenix::Vsn::V1);
            frame = &v1;
        } else if ((msg.binary_origin || !msg.json_payload) && v2_binary_ok) {
            if (!v2_binary) {
                std::string buf = frame_buffer(msg.payload.size() + msg.topic.size() + 32);
                v2_binary_ok = phoenix::encode_user_broadcast(buf, msg.topic, msg.event, msg.meta_json,
                                                              msg.json_payload, msg.payload);
                if (v2_binary_ok) v2_binary = make_frame(std::move(buf), true);
            }
            if (v2_binary_ok) {
                frame = &v2_binary;
            } else if (msg.json_payload) {
                if (!v2_text) v2_text = text_frame(phoenix::Vsn::V2);
                frame = &v2_text;
            } else {
                metrics_.dropped_messages++;
                continue;
            }
        } else {
            if (!msg.json_payload) {
                metrics_.dropped_messages++;
                continue;
            }
            if (!v2_text) v2_text = text_frame(phoenix::Vsn::V2);
            frame = &v2_text;
        }
        enqueue(conn, *frame);
    }
}

// -- presence -------------------------------------------------------------------------

void Hub::handle_presence(Connection& conn, Member& m, const phoenix::Inbound& msg) {
    const json::Value* event = msg.payload ? json::member(*msg.payload, "event") : nullptr;
    std::string_view ev = json::string_or(event, "");
    if (ev == "track") {
        const json::Value* meta = json::member(*msg.payload, "payload");
        if (!meta || !meta->IsObject()) {
            send_error_reply(conn, msg, "Presence track payload must be a map");
            return;
        }
        std::string meta_json = json::stringify(*meta);
        if (!m.presence_enabled) {
            // A track enables presence on a channel joined without it.
            m.presence_enabled = true;
            push(conn, m.join_ref, m.channel->topic, "presence_state", presence_.state_json(m.channel->topic));
        }
        track(m, std::move(meta_json));
        send_reply(conn, msg, "ok", "{}");
    } else if (ev == "untrack") {
        untrack(m);
        send_reply(conn, msg, "ok", "{}");
    } else {
        metrics_.protocol_errors++;
        send_error_reply(conn, msg, "presence event must be \"track\" or \"untrack\"");
    }
}

void Hub::track(Member& m, std::string meta_json) {
    PresenceEntry e;
    e.owner = m.id;
    e.key = m.presence_key;
    e.phx_ref = next_phx_ref();
    e.meta_json = std::move(meta_json);
    const PresenceEntry* before = presence_.find(m.channel->topic, "", m.id);
    if (before) e.phx_ref_prev = before->phx_ref;
    PresenceDelta delta{true, m.channel->topic, e};
    PresenceDiff diff = presence_.track(m.channel->topic, std::move(e));
    metrics_.presence_entries.store(static_cast<int64_t>(presence_.entries()));
    fanout_presence_diff(diff);
    if (cluster_) cluster_->publish_presence(delta);
}

void Hub::untrack(Member& m) {
    PresenceDiff diff;
    if (!presence_.untrack(m.channel->topic, "", m.id, diff)) return;
    metrics_.presence_entries.store(static_cast<int64_t>(presence_.entries()));
    fanout_presence_diff(diff);
    if (cluster_) {
        PresenceDelta delta;
        delta.join = false;
        delta.topic = m.channel->topic;
        delta.entry.owner = m.id;
        cluster_->publish_presence(delta);
    }
}

void Hub::apply_remote_presence(const std::string& node, const PresenceDelta& delta) {
    PresenceDiff diff;
    if (delta.join) {
        PresenceEntry e = delta.entry;
        e.node = node;
        diff = presence_.track(delta.topic, std::move(e));
    } else if (!presence_.untrack(delta.topic, node, delta.entry.owner, diff)) {
        return;
    }
    metrics_.presence_entries.store(static_cast<int64_t>(presence_.entries()));
    fanout_presence_diff(diff);
}

void Hub::remove_remote_presence(const std::string& node) {
    for (const PresenceDiff& diff : presence_.remove_node(node)) fanout_presence_diff(diff);
    metrics_.presence_entries.store(static_cast<int64_t>(presence_.entries()));
}

void Hub::replace_remote_presence(const std::string& node, const std::vector<PresenceDelta>& entries) {
    std::vector<std::pair<std::string, PresenceEntry>> state;
    state.reserve(entries.size());
    for (const PresenceDelta& d : entries) state.emplace_back(d.topic, d.entry);
    for (const PresenceDiff& diff : presence_.replace_node(node, state)) fanout_presence_diff(diff);
    metrics_.presence_entries.store(static_cast<int64_t>(presence_.entries()));
}

void Hub::for_each_presence_entry(const std::function<void(const PresenceDelta&)>& fn) const {
    presence_.for_each_of_node("", [&](const std::string& topic, const PresenceEntry& e) {
        fn(PresenceDelta{true, topic, e});
    });
}

void Hub::fanout_presence_diff(const PresenceDiff& diff) {
    auto it = channels_.find(diff.topic);
    if (it == channels_.end()) return;
    FrameRef frames[2];
    for (Member* m : it->second->members) {
        if (!m->presence_enabled) continue;
        auto v = static_cast<size_t>(m->conn->vsn);
        if (!frames[v]) {
            std::string buf = frame_buffer(diff.json.size() + diff.topic.size() + 48);
            phoenix::encode(buf, m->conn->vsn, std::nullopt, std::nullopt, diff.topic, "presence_diff", diff.json);
            frames[v] = make_frame(std::move(buf), false);
        }
        enqueue(*m->conn, frames[v]);
    }
}

std::string Hub::next_phx_ref() {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t n = next_ref_++;
    std::string ref = "F";
    for (int i = 0; i < 11; ++i, n >>= 6) ref.push_back(alphabet[n & 63]);
    return ref;
}

// -- access tokens --------------------------------------------------------------------

void Hub::handle_access_token(Connection& conn, Member& m, const phoenix::Inbound& msg) {
    const json::Value* t = msg.payload ? json::member(*msg.payload, "access_token") : nullptr;
    if (!t || t->IsNull()) return;
    std::string_view token = json::string_or(t, "");
    if (token.empty() || token == m.access_token) return;
    JwtResult r = jwt_.verify(token, now_s_);
    if (!r.ok) {
        std::string reason = r.error == kJwtExpired
                                 ? "Token has expired " + std::to_string(now_s_ - r.claims.exp) + " seconds ago"
                                 : r.error;
        close_channel_with_error(m, reason);
        return;
    }
    m.access_token = std::string(token);
    m.token_exp = r.claims.exp;
    m.claims = std::make_unique<Claims>(std::move(r.claims));
}

// -- output ---------------------------------------------------------------------------

void Hub::enqueue(Connection& conn, FrameRef frame) {
    if (conn.closing) return;
    if (conn.queue.bytes() + static_cast<int64_t>(frame->size()) > cfg_.limits.max_send_queue_bytes) {
        // A client that does not read loses its connection, not the server its memory.
        metrics_.slow_client_disconnects++;
        metrics_.dropped_messages += conn.queue.frames() + 1;
        LOG_INFO("closing connection %llu: send queue over %lld bytes (slow client)",
                 static_cast<unsigned long long>(conn.id), static_cast<long long>(cfg_.limits.max_send_queue_bytes));
        conn.closing = true;
        conn.queue.clear();
        transport_.close(conn, 1008, "send queue full: the client reads too slowly");
        return;
    }
    bool was_empty = conn.queue.empty();
    conn.queue.push(std::move(frame));
    if (was_empty) transport_.request_write(conn);
}

void Hub::push(Connection& conn, std::optional<std::string_view> join_ref, std::string_view topic,
               std::string_view event, std::string_view payload_json, std::optional<std::string_view> ref) {
    std::string buf = frame_buffer(payload_json.size() + topic.size() + event.size() + 48);
    phoenix::encode(buf, conn.vsn, join_ref, ref, topic, event, payload_json);
    enqueue(conn, make_frame(std::move(buf), false));
}

void Hub::send_reply(Connection& conn, const phoenix::Inbound& msg, std::string_view status,
                     std::string_view response_json) {
    std::optional<std::string_view> join_ref, ref;
    if (msg.join_ref) join_ref = *msg.join_ref;
    if (msg.ref) ref = *msg.ref;
    send_reply(conn, join_ref, ref, msg.topic, status, response_json);
}

void Hub::send_reply(Connection& conn, std::optional<std::string_view> join_ref, std::optional<std::string_view> ref,
                     std::string_view topic, std::string_view status, std::string_view response_json) {
    std::string payload = "{\"status\":";
    json::append_string(payload, status);
    payload += ",\"response\":";
    payload.append(response_json);
    payload.push_back('}');
    std::string buf = frame_buffer(payload.size() + topic.size() + 64);
    phoenix::encode(buf, conn.vsn, join_ref, ref, topic, "phx_reply", payload);
    enqueue(conn, make_frame(std::move(buf), false));
}

void Hub::send_error_reply(Connection& conn, const phoenix::Inbound& msg, std::string_view reason) {
    std::string response = "{\"reason\":";
    json::append_string(response, reason);
    response.push_back('}');
    send_reply(conn, msg, "error", response);
}

void Hub::send_system(Member& m, std::string_view extension, std::string_view status, std::string_view message) {
    push(*m.conn, m.join_ref, m.channel->topic, "system",
         system_payload(extension, status, message, sub_topic(m.channel->topic)));
}

}  // namespace rt
