// Owns: the HTTP and WebSocket publishers (see publisher.h).
#include "bench/loadgen/publisher.h"

#include <deque>
#include <unordered_map>

#include "bench/loadgen/clock.h"
#include "bench/loadgen/http_client.h"
#include "bench/loadgen/json_scan.h"
#include "bench/loadgen/nchan_proto.h"
#include "bench/loadgen/payload.h"
#include "bench/loadgen/phoenix_proto.h"
#include "bench/loadgen/ws_client.h"

namespace lg {

namespace {

constexpr int64_t kReconnectNs = 500 * 1000 * 1000;
constexpr size_t kWsBackpressureBytes = 1 << 20;

struct Sent {
    int channel;
    int64_t ts;
};

class HttpPublisher final : public Publisher, public HttpHandler {
public:
    HttpPublisher(EventLoop* loop, PublishSink* sink, const RunContext* ctx, int index, std::vector<int> channels)
        : http_(loop, this), sink_(sink), ctx_(ctx), index_(index), channels_(std::move(channels)) {
        batch_ = ctx_->phoenix() ? ctx_->opt.http_batch : 1;
        if (ctx_->phoenix() && !ctx_->token.empty())
            auth_ = "Authorization: Bearer " + ctx_->token + "\r\n";
    }

    void start(int64_t now) override {
        int err = 0;
        reconnect_at_ = 0;
        if (!http_.connect(ctx_->pub_addr, ctx_->sources.pick(size_t(index_)), &err)) {
            sink_->on_publisher_error("publisher connect: " + errno_name(err));
            reconnect_at_ = now + kReconnectNs;
        }
    }

    void maintain(int64_t now) override {
        if (!http_.alive() && reconnect_at_ != 0 && now >= reconnect_at_) start(now);
    }

    bool ready() const override { return http_.connected(); }

    int capacity() const override {
        if (!http_.connected() || channels_.empty()) return 0;
        return (ctx_->opt.pipeline - http_.in_flight()) * batch_;
    }

    int publish(int n) override {
        int sent = 0;
        while (sent < n && http_.in_flight() < ctx_->opt.pipeline) {
            int k = std::min(batch_, n - sent);
            build_request(k);
            sent += k;
        }
        return sent;
    }

    void abort() override { http_.abort(); }

    void on_http_response(HttpClient&, int status, const std::string& body) override {
        if (inflight_.empty()) return;
        std::vector<Sent> msgs = std::move(inflight_.front());
        inflight_.pop_front();
        if (status >= 200 && status < 300) return;
        std::string why = "publish HTTP " + std::to_string(status) + " " + body.substr(0, 200);
        for (auto& m : msgs) sink_->on_publish_failed(m.channel, m.ts, why);
    }

    void on_http_end(HttpClient&, const std::string& why, int) override {
        for (auto& req : inflight_)
            for (auto& m : req) sink_->on_publish_failed(m.channel, m.ts, "publisher connection: " + why);
        inflight_.clear();
        sink_->on_publisher_error("publisher connection: " + why);
        reconnect_at_ = mono_ns() + kReconnectNs;
    }

private:
    int next_channel() {
        int c = channels_[cursor_ % channels_.size()];
        cursor_++;
        return c;
    }

    void build_request(int k) {
        std::vector<Sent> msgs;
        msgs.reserve(size_t(k));
        std::string request;
        if (!ctx_->phoenix()) {
            int c = next_channel();
            int64_t ts = mono_ns();
            make_payload(&payload_, ts, ctx_->opt.payload_size);
            nchan::publish_request(&request, ctx_->pub_host, ctx_->pub_targets[size_t(c)], payload_);
            msgs.push_back({c, ts});
        } else {
            payloads_.resize(size_t(k));
            std::vector<std::pair<std::string_view, std::string_view>> items;
            for (int i = 0; i < k; i++) {
                int c = next_channel();
                int64_t ts = mono_ns();
                make_payload(&payloads_[size_t(i)], ts, ctx_->opt.payload_size);
                items.emplace_back(ctx_->channel_names[size_t(c)], payloads_[size_t(i)]);
                msgs.push_back({c, ts});
            }
            phx::http_broadcast_body(&body_, ctx_->opt.event_name, items);
            append_post(&request, ctx_->pub_host, ctx_->pub_targets[0], "application/json", auth_, body_);
        }
        inflight_.push_back(msgs);
        http_.send_request(request);
        for (auto& m : msgs) sink_->on_published(m.channel, m.ts);
    }

    HttpClient http_;
    PublishSink* sink_;
    const RunContext* ctx_;
    int index_;
    std::vector<int> channels_;
    size_t cursor_ = 0;
    int batch_ = 1;
    std::string auth_;
    std::string payload_, body_;
    std::vector<std::string> payloads_;
    std::deque<std::vector<Sent>> inflight_;
    int64_t reconnect_at_ = 0;
};

class WsPublisher final : public Publisher, public WsHandler {
public:
    WsPublisher(EventLoop* loop, PublishSink* sink, const RunContext* ctx, int index, std::vector<int> channels)
        : ws_(loop, this), sink_(sink), ctx_(ctx), index_(index), channels_(std::move(channels)),
          joined_(channels_.size(), false) {
        for (int c : channels_) topics_.push_back(phx::topic_of(ctx_->channel_names[size_t(c)]));
    }

    void start(int64_t now) override {
        int err = 0;
        reconnect_at_ = 0;
        std::fill(joined_.begin(), joined_.end(), false);
        joined_count_ = 0;
        if (!ws_.connect(ctx_->pub_ws_addr, ctx_->sources.pick(size_t(index_)), ctx_->pub_ws_host,
                         ctx_->pub_ws_target, &err)) {
            sink_->on_publisher_error("publisher connect: " + errno_name(err));
            reconnect_at_ = now + kReconnectNs;
        }
    }

    void maintain(int64_t now) override {
        if (ws_.state() == WsClient::State::kClosed && reconnect_at_ != 0 && now >= reconnect_at_) start(now);
    }

    bool ready() const override { return ws_.is_open() && joined_count_ == channels_.size(); }

    int capacity() const override {
        if (!ws_.is_open() || joined_count_ == 0) return 0;
        if (ctx_->opt.publish_ack) return ctx_->opt.pipeline - int(unacked_.size());
        return ws_.tx_pending() > kWsBackpressureBytes ? 0 : ctx_->opt.pipeline;
    }

    int publish(int n) override {
        int sent = 0;
        for (; sent < n && capacity() > 0; sent++) {
            size_t k = next_joined();
            int c = channels_[k];
            int64_t ts = mono_ns();
            make_payload(&payload_, ts, ctx_->opt.payload_size);
            std::string ref = std::to_string(next_ref_++);
            std::string join_ref = std::to_string(k + 1);
            if (ctx_->opt.binary) {
                phx::encode_kind3(&frame_, join_ref, ref, topics_[k], ctx_->opt.event_name, payload_);
                ws_.send_binary(frame_);
            } else {
                phx::broadcast_payload(&body_, ctx_->opt.event_name, payload_);
                phx::encode(&frame_, ctx_->opt.vsn, join_ref, ref, topics_[k], "broadcast", body_);
                ws_.send_text(frame_);
            }
            if (ctx_->opt.publish_ack) unacked_.emplace(next_ref_ - 1, Sent{c, ts});
            sink_->on_published(c, ts);
        }
        return sent;
    }

    void abort() override {
        ws_.send_close(1000);
        ws_.abort();
    }

    void on_ws_open(WsClient& c) override {
        std::string frame;
        for (size_t k = 0; k < channels_.size(); k++) {
            std::string ref = std::to_string(k + 1);
            phx::encode(&frame, ctx_->opt.vsn, ref, ref, topics_[k], "phx_join", ctx_->join_payload_pub);
            c.send_text(frame);
        }
    }

    void on_ws_message(WsClient&, bool binary, char* data, size_t len) override {
        phx::Message m;
        if (!phx::decode(binary, std::string_view(data, len), ctx_->opt.vsn, &m)) return;
        if (!json::string_equals(m.event, "phx_reply")) {
            std::string_view status;
            bool system_error = json::string_equals(m.event, "system") &&
                                json::object_get(m.payload, "status", &status) &&
                                !json::string_equals(status, "ok");
            if (system_error || json::string_equals(m.event, "phx_error") ||
                json::string_equals(m.event, "phx_close"))
                on_channel_trouble(m);
            return;
        }
        int64_t ref = 0;
        if (!json::as_int64(m.ref, &ref)) return;
        std::string reason;
        bool ok = phx::reply_ok(m.payload, &reason);
        if (ref >= 1 && ref <= int64_t(channels_.size())) {
            size_t k = size_t(ref - 1);
            if (ok && !joined_[k]) {
                joined_[k] = true;
                joined_count_++;
            } else if (!ok) {
                sink_->on_publisher_error("publisher join refused: " + reason);
            }
            return;
        }
        auto it = unacked_.find(uint64_t(ref));
        if (it == unacked_.end()) return;
        Sent s = it->second;
        unacked_.erase(it);
        if (!ok) sink_->on_publish_failed(s.channel, s.ts, "broadcast refused: " + reason);
    }

    void on_ws_end(WsClient&, WsEnd why, const std::string& detail) override {
        for (auto& [ref, s] : unacked_) sink_->on_publish_failed(s.channel, s.ts, "publisher connection ended");
        unacked_.clear();
        sink_->on_publisher_error(std::string("publisher connection: ") + ws_end_name(why) + " " + detail);
        reconnect_at_ = mono_ns() + kReconnectNs;
    }

private:
    void on_channel_trouble(const phx::Message& m) {
        std::string text(m.payload.substr(0, 200));
        sink_->on_publisher_error("publisher channel: " + std::string(m.event) + " " + text);
        for (size_t k = 0; k < topics_.size(); k++) {
            if (json::string_equals(m.topic, topics_[k]) && joined_[k]) {
                joined_[k] = false;
                joined_count_--;
            }
        }
    }

    size_t next_joined() {
        for (size_t i = 0; i < channels_.size(); i++) {
            size_t k = cursor_++ % channels_.size();
            if (joined_[k]) return k;
        }
        return 0;
    }

    WsClient ws_;
    PublishSink* sink_;
    const RunContext* ctx_;
    int index_;
    std::vector<int> channels_;
    std::vector<std::string> topics_;
    std::vector<bool> joined_;
    size_t joined_count_ = 0;
    size_t cursor_ = 0;
    uint64_t next_ref_ = 1000000;
    std::unordered_map<uint64_t, Sent> unacked_;
    std::string payload_, body_, frame_;
    int64_t reconnect_at_ = 0;
};

}  // namespace

std::unique_ptr<Publisher> make_publisher(EventLoop* loop, PublishSink* sink, const RunContext* ctx,
                                          int index, std::vector<int> channels) {
    if (ctx->phoenix() && ctx->opt.publish_via == PublishVia::kWs)
        return std::make_unique<WsPublisher>(loop, sink, ctx, index, std::move(channels));
    return std::make_unique<HttpPublisher>(loop, sink, ctx, index, std::move(channels));
}

}  // namespace lg
