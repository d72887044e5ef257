// Per-second samples of every node's rates, as JSON.
#include "relay/inspector/sampler.h"

#include "relay/core/json.h"

namespace rt::inspector {
namespace {

double round2(double v) { return static_cast<double>(static_cast<int64_t>(v * 100 + (v >= 0 ? 0.5 : -0.5))) / 100; }

void number(json::Writer& w, const char* key, double v) {
    w.Key(key);
    w.Double(round2(v));
}

void latency(json::Writer& w, const char* key, double ms) {  // null: nothing was delivered
    w.Key(key);
    if (ms < 0)
        w.Null();
    else
        w.Double(round2(ms));
}

void node_json(json::Writer& w, const NodeView& v, const NodeRates& r) {
    const NodeReading& g = v.reading;
    w.StartObject();
    w.Key("node");
    w.String(v.node.c_str(), static_cast<rapidjson::SizeType>(v.node.size()));
    w.Key("connections");
    w.Int64(g.connections);
    w.Key("channels");
    w.Int64(g.channels);
    w.Key("presence");
    w.Int64(g.presence_entries);
    w.Key("subscriptions");
    w.Int64(g.subscriptions);
    number(w, "in", r.messages_in);
    number(w, "out", r.messages_out);
    number(w, "deliveries", r.deliveries);
    number(w, "broadcasts", r.broadcasts);
    number(w, "changes", r.changes);
    number(w, "bytes_in", r.bytes_in);
    number(w, "bytes_out", r.bytes_out);
    latency(w, "p50_ms", r.latency_p50_ms);
    latency(w, "p99_ms", r.latency_p99_ms);
    w.Key("slot_lag_bytes");
    w.Int64(g.slot_lag_bytes);
    w.Key("slot_lag_ms");
    w.Int64(g.slot_lag_ms);
    w.EndObject();
}

}  // namespace

// A peer's reading changes with its heartbeats: one that has not changed since the last
// sample keeps the rates it gave then; a new incarnation starts over.
NodeRates Sampler::rates_of(const NodeView& v) {
    auto it = previous_.find(v.node);
    if (it == previous_.end() || it->second.incarnation != v.incarnation) {
        previous_[v.node] = Previous{v.incarnation, v.reading, NodeRates{}};
        return NodeRates{};
    }
    Previous& p = it->second;
    if (v.reading.at_ms != p.reading.at_ms) {
        p.rates = rates_between(p.reading, v.reading);
        p.reading = v.reading;
    }
    return p.rates;
}

void Sampler::add(const std::vector<NodeView>& nodes, int64_t wall_ms) {
    rapidjson::StringBuffer buf;
    json::Writer w(buf);
    w.StartObject();
    w.Key("seq");
    w.Uint64(++seq_);
    w.Key("t");
    w.Int64(wall_ms);
    w.Key("nodes");
    w.StartArray();
    for (const NodeView& v : nodes) {
        if (!v.up) continue;
        node_json(w, v, rates_of(v));
    }
    w.EndArray();
    w.EndObject();
    samples_.push_back(Kept{seq_, buf.GetString()});
    if (samples_.size() > kKept) samples_.pop_front();
}

std::string Sampler::json_after(uint64_t seq) const {
    std::string out = "{\"seq\":" + std::to_string(seq_) + ",\"samples\":[";
    bool first = true;
    for (const Kept& k : samples_) {
        if (k.seq <= seq) continue;
        if (!first) out.push_back(',');
        first = false;
        out += k.json;
    }
    out += "]}";
    return out;
}

}  // namespace rt::inspector
