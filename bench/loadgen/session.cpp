// Owns: the subscriber conversation (see session.h).
#include "bench/loadgen/session.h"

#include "bench/loadgen/json_scan.h"
#include "bench/loadgen/payload.h"
#include "bench/loadgen/phoenix_proto.h"

namespace lg {

bool Session::start(int64_t now_ns) {
    started_at_ = now_ns;
    state_ = State::kPending;
    int err = 0;
    const auto& ep = ctx_->endpoint_of(index_);
    const std::string& target = ep.targets.size() == 1 ? ep.targets[0] : ep.targets[size_t(channel_)];
    if (!ws_.connect(ep.addr, ctx_->sources.pick(size_t(index_)), ep.host, target, &err)) {
        sink_->on_ended(*this, WsEnd::kConnectFailed, errno_name(err));
        state_ = State::kEnded;
        return false;
    }
    return true;
}

void Session::on_ws_open(WsClient& c) {
    opened_ = true;
    sink_->on_connected(*this);
    if (!ctx_->phoenix()) {
        state_ = State::kJoined;
        sink_->on_joined(*this);
        return;
    }
    std::string frame;
    phx::encode(&frame, ctx_->opt.vsn, "1", "1", phx::topic_of(ctx_->channel_names[size_t(channel_)]),
                "phx_join", ctx_->join_payload_of(channel_));
    c.send_text(frame);
}

void Session::send_heartbeat() {
    if (!ws_.is_open()) return;
    if (!ctx_->phoenix()) {
        ws_.send_ping();
        return;
    }
    std::string frame;
    std::string ref = std::to_string(next_ref_++);
    phx::encode(&frame, ctx_->opt.vsn, "", ref, "phoenix", "heartbeat", "{}");
    ws_.send_text(frame);
}

void Session::fail_timeout() { ws_.fail(WsEnd::kTimeout, "not joined within --connect-timeout"); }

void Session::on_ws_message(WsClient&, bool binary, char* data, size_t len) {
    if (!ctx_->phoenix()) {
        int64_t ts = find_payload_ts(data, len);
        if (ts >= 0) sink_->on_delivery(*this, ts);
        else sink_->on_undecodable(*this, "nchan message without lg_ts");
        return;
    }
    on_phoenix_message(binary, std::string_view(data, len));
}

void Session::on_phoenix_message(bool binary, std::string_view frame) {
    phx::Message m;
    if (!phx::decode(binary, frame, ctx_->opt.vsn, &m)) {
        sink_->on_undecodable(*this, binary ? "binary frame not kind 4" : "not a phoenix message");
        return;
    }
    if (m.kind4) {
        int64_t ts = find_payload_ts(m.user_payload.data(), m.user_payload.size());
        if (ts >= 0) sink_->on_delivery(*this, ts);
        else sink_->on_undecodable(*this, "kind 4 broadcast without lg_ts");
        return;
    }
    if (json::string_equals(m.event, "broadcast")) {
        int64_t ts = find_payload_ts(m.payload.data(), m.payload.size());
        if (ts >= 0) sink_->on_delivery(*this, ts);
        else sink_->on_undecodable(*this, "broadcast without lg_ts");
    } else if (json::string_equals(m.event, "postgres_changes")) {
        sink_->on_pg_change(*this, m.payload);
    } else if (json::string_equals(m.event, "phx_reply")) {
        on_reply(m.topic, m.ref, m.payload);
    } else if (json::string_equals(m.event, "system")) {
        on_system(m.payload);
    } else if (json::string_equals(m.event, "phx_error") || json::string_equals(m.event, "phx_close")) {
        std::string ev;
        json::as_string(m.event, &ev);
        if (state_ == State::kJoined) ws_.fail(WsEnd::kPeerClosed, "channel " + ev);
        else join_failed("channel " + ev + " before the join reply");
    }
    // presence_state, presence_diff and others are not expected and are ignored
}

void Session::on_reply(std::string_view topic, std::string_view ref, std::string_view payload) {
    if (json::string_equals(topic, "phoenix")) {
        sink_->on_heartbeat_reply(*this);
        return;
    }
    if (state_ != State::kPending || !json::string_equals(ref, "1")) return;
    std::string reason;
    if (!phx::reply_ok(payload, &reason)) {
        join_failed("join refused: " + reason);
        return;
    }
    state_ = State::kJoined;
    sink_->on_joined(*this);
}

void Session::on_system(std::string_view payload) {
    std::string_view status, extension;
    json::object_get(payload, "status", &status);
    json::object_get(payload, "extension", &extension);
    if (json::string_equals(status, "ok")) {
        if (json::string_equals(extension, "postgres_changes") && !subscribed_) {
            subscribed_ = true;
            sink_->on_subscribed(*this);
        }
        return;
    }
    std::string_view message;
    std::string text;
    if (json::object_get(payload, "message", &message)) json::as_string(message, &text);
    if (state_ == State::kJoined) ws_.fail(WsEnd::kPeerClosed, "system error: " + text);
    else join_failed("system error: " + text);
}

void Session::join_failed(const std::string& reason) {
    state_ = State::kEnded;
    sink_->on_join_failed(*this, reason);
    ws_.abort();
}

void Session::on_ws_pong(WsClient&) {
    if (!ctx_->phoenix()) sink_->on_heartbeat_reply(*this);
}

void Session::on_ws_end(WsClient&, WsEnd why, const std::string& detail) {
    if (state_ == State::kEnded) return;
    sink_->on_ended(*this, why, detail);  // state() still tells joined from pending
    state_ = State::kEnded;
}

}  // namespace lg
