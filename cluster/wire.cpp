// Mesh message encoding: little-endian integers and u32-length-prefixed strings.
#include "cluster/wire.h"

#include "relay/core/bytes.h"

namespace rt::cluster {
namespace {

// 2: changes carry groups and notices (row level security); 3: changes carry their
// hand-over tag, acknowledgements and base notices (issue 14); 4: heartbeats carry node
// counters, inspector questions; 5: broadcasts carry the sender's wall clock (issue 14);
// 6: acknowledgements carry what was received besides what was written (issue 15).
constexpr uint8_t kVersion = 6;

// Writes fields (every call succeeds, so a field list reads the same both ways).
class Out {
public:
    bool u8(uint8_t v) {
        s_.push_back(static_cast<char>(v));
        return true;
    }
    bool flag(bool v) { return u8(v); }
    bool u32(uint32_t v) {
        bytes::put_le(s_, v);
        return true;
    }
    bool u64(uint64_t v) {
        bytes::put_le(s_, v);
        return true;
    }
    bool i64(int64_t v) { return u64(static_cast<uint64_t>(v)); }
    bool str(std::string_view v) {
        u32(static_cast<uint32_t>(v.size()));
        s_.append(v);
        return true;
    }
    template <typename T, typename Each>
    bool list(const std::vector<T>& items, Each each) {
        u32(static_cast<uint32_t>(items.size()));
        for (const T& item : items) each(*this, item);
        return true;
    }
    std::string take() { return std::move(s_); }

private:
    std::string s_;
};

// Reads fields; false once the data runs short.
class In {
public:
    explicit In(std::string_view d) : d_(d) {}
    bool u8(uint8_t& v) { return fixed(v); }
    bool flag(bool& v) {
        uint8_t b;
        if (!u8(b)) return false;
        v = b != 0;
        return true;
    }
    bool u32(uint32_t& v) { return fixed(v); }
    bool u64(uint64_t& v) { return fixed(v); }
    bool i64(int64_t& v) {
        uint64_t u;
        if (!u64(u)) return false;
        v = static_cast<int64_t>(u);
        return true;
    }
    bool str(std::string& v) {
        uint32_t n;
        if (!u32(n) || !need(n)) return false;
        v.assign(d_.substr(p_, n));
        p_ += n;
        return true;
    }
    template <typename T, typename Each>
    bool list(std::vector<T>& items, Each each) {
        uint32_t n;
        if (!u32(n)) return false;
        items.clear();
        for (uint32_t i = 0; i < n; ++i) {
            T item;
            if (!each(*this, item)) return false;
            items.push_back(std::move(item));
        }
        return true;
    }
    bool done() const { return p_ == d_.size(); }

private:
    template <typename T>
    bool fixed(T& v) {
        if (!need(sizeof(T))) return false;
        v = bytes::get_le<T>(d_.data() + p_);
        p_ += sizeof(T);
        return true;
    }
    bool need(size_t n) const { return d_.size() - p_ >= n; }
    std::string_view d_;
    size_t p_ = 0;
};

// Each message's fields, in wire order, written once for both directions: io is Out
// (m const) or In (m filled).
const auto kEntry = [](auto& io, auto& e) {
    return io.u64(e.owner) && io.str(e.key) && io.str(e.phx_ref) && io.str(e.phx_ref_prev) && io.str(e.meta_json);
};
const auto kReading = [](auto& io, auto& r) {
    return io.i64(r.at_ms) && io.i64(r.connections) && io.i64(r.channels) && io.i64(r.presence_entries) &&
           io.i64(r.subscriptions) && io.i64(r.slot_lag_bytes) && io.i64(r.slot_lag_ms) && io.u64(r.messages_in) &&
           io.u64(r.messages_out) && io.u64(r.deliveries) && io.u64(r.broadcasts) && io.u64(r.changes) &&
           io.u64(r.bytes_in) && io.u64(r.bytes_out) && io.u64(r.change_gaps) && io.u64(r.mesh_dropped) &&
           io.list(r.latency, [](auto& io2, auto& v) { return io2.u64(v); });
};
const auto kHeartbeat = [](auto& io, auto& m) {
    return io.str(m.endpoint) && io.str(m.region) && io.u64(m.presence_seq) && io.flag(m.competes) &&
           io.flag(m.slot_holder) && kReading(io, m.reading);
};
const auto kBroadcast = [](auto& io, auto& m) {
    return io.str(m.topic) && io.str(m.event) && io.str(m.payload) && io.flag(m.json_payload) &&
           io.flag(m.binary_origin) && io.str(m.meta_json) && io.str(m.id) && io.flag(m.is_private) &&
           io.u64(m.pos.commit_lsn) && io.u32(m.pos.change_index) && io.i64(m.sent_ms);
};
const auto kPresenceDelta = [](auto& io, auto& m) { return io.flag(m.join) && io.str(m.topic) && kEntry(io, m.entry); };
const auto kSnapshot = [](auto& io, auto& m) {
    return io.u64(m.presence_seq) &&
           io.list(m.entries, [](auto& io2, auto& d) { return io2.str(d.topic) && kEntry(io2, d.entry); });
};
const auto kRouteCheck = [](auto& io, auto& m) { return io.str(m.topic) && io.str(m.asker) && io.u64(m.token); };
bool inspect_kind(Out& o, InspectQuery::Kind k) { return o.u8(static_cast<uint8_t>(k)); }
bool inspect_kind(In& in, InspectQuery::Kind& k) {
    uint8_t v;
    if (!in.u8(v) || v < 1 || v > 2) return false;
    k = static_cast<InspectQuery::Kind>(v);
    return true;
}
const auto kInspectQuery = [](auto& io, auto& m) {
    return io.u64(m.id) && inspect_kind(io, m.kind) && io.str(m.arg) && io.u32(m.limit);
};
const auto kInspectAnswer = [](auto& io, auto& m) { return io.u64(m.id) && io.str(m.json); };

bool change_kind(Out& o, ChangeEvent::Kind k) { return o.u8(static_cast<uint8_t>(k)); }
bool change_kind(In& in, ChangeEvent::Kind& k) {
    uint8_t v;
    if (!in.u8(v) || v > static_cast<uint8_t>(ChangeEvent::Kind::Recovered)) return false;
    k = static_cast<ChangeEvent::Kind>(v);
    return true;
}
const auto kChangeGroup = [](auto& io, auto& g) {
    return io.list(g.ids, [](auto& io2, auto& id) { return io2.i64(id); }) && io.str(g.payload);
};
const auto kNotice = [](auto& io, auto& n) { return io.i64(n.id) && io.str(n.message) && io.flag(n.ended); };
const auto kChange = [](auto& io, auto& m) {
    return change_kind(io, m.kind) && io.u64(m.pos.commit_lsn) && io.u32(m.pos.change_index) &&
           io.list(m.groups, kChangeGroup) && io.list(m.notices, kNotice);
};

const auto kIds = [](auto& io, auto& ids) { return io.list(ids, [](auto& io2, auto& id) { return io2.i64(id); }); };
const auto kKeptAsk = [](auto& io, auto& m) { return io.u64(m.id) && kIds(io, m.subscriptions); };
const auto kKeptHandOver = [](auto& io, auto& m) {
    return io.u64(m.id) && kIds(io, m.handed) && io.i64(m.missed_since_s) && io.u8(m.missed_why) &&
           io.list(m.changes, kChange);
};

const auto kHandOverTag = [](auto& io, auto& m) {
    return io.u64(m.stream) && io.u64(m.seq) && io.u64(m.base) && io.flag(m.lossy);
};
const auto kHandOverAck = [](auto& io, auto& m) {
    return io.u64(m.stream) && io.u64(m.through) && io.flag(m.resend) && io.u64(m.received);
};

template <typename M, typename Fields>
std::string encode_with(const M& m, Fields fields) {
    Out o;
    fields(o, m);
    return o.take();
}

template <typename M, typename Fields>
bool decode_with(std::string_view data, M& m, Fields fields) {
    In in(data);
    return fields(in, m) && in.done();
}

}  // namespace

std::string routing_heartbeat() { return "H"; }
std::string routing_presence() { return "P"; }
std::string routing_inspect() { return "Q"; }

std::string routing_node(std::string_view node) {
    std::string k = "N:";
    k.append(node);
    k.push_back('\0');
    return k;
}

std::string routing_broadcast(std::string_view topic) {
    std::string k = "B:";
    k.append(topic);
    k.push_back('\0');
    return k;
}

std::string encode_kind(MsgType type, uint64_t presence_seq) {
    std::string k(1, static_cast<char>(type));
    bytes::put_le(k, presence_seq);
    return k;
}

bool decode_kind(std::string_view frame, MsgType& type, uint64_t& presence_seq) {
    if (frame.size() != 9) return false;
    type = static_cast<MsgType>(frame[0]);
    presence_seq = bytes::get_le<uint64_t>(frame.data() + 1);
    return true;
}

bool broadcast_topic(std::string_view routing, std::string& topic) {
    if (routing.size() <= 3 || routing.substr(0, 2) != "B:") return false;
    topic.assign(routing.substr(2, routing.size() - 3));
    return true;
}

std::string encode_header(const Header& h) {
    Out o;
    o.u8(kVersion);
    o.u8(static_cast<uint8_t>(h.type));
    o.str(h.node);
    o.u64(h.incarnation);
    o.u64(h.seq);
    return o.take();
}

bool decode_header(std::string_view data, Header& out) {
    In in(data);
    uint8_t version, type;
    if (!in.u8(version) || version != kVersion || !in.u8(type) || !in.str(out.node) || !in.u64(out.incarnation) ||
        !in.u64(out.seq) || !in.done())
        return false;
    if (type < 1 || type > kLastMsgType) return false;
    out.type = static_cast<MsgType>(type);
    return true;
}

std::string encode(const Heartbeat& m) { return encode_with(m, kHeartbeat); }
bool decode(std::string_view data, Heartbeat& m) { return decode_with(data, m, kHeartbeat); }

std::string encode(const BroadcastMsg& m) { return encode_with(m, kBroadcast); }
bool decode(std::string_view data, BroadcastMsg& m) { return decode_with(data, m, kBroadcast); }

std::string encode(const PresenceDelta& m) { return encode_with(m, kPresenceDelta); }
bool decode(std::string_view data, PresenceDelta& m) { return decode_with(data, m, kPresenceDelta); }

std::string encode(const PresenceSnapshot& m) { return encode_with(m, kSnapshot); }
bool decode(std::string_view data, PresenceSnapshot& m) { return decode_with(data, m, kSnapshot); }


std::string encode(const RouteCheck& m) { return encode_with(m, kRouteCheck); }
std::string encode(const HandOverAck& m) { return encode_with(m, kHandOverAck); }
bool decode(std::string_view data, HandOverAck& m) { return decode_with(data, m, kHandOverAck); }
std::string encode(const HandOverTag& m) { return encode_with(m, kHandOverTag); }
bool decode(std::string_view data, HandOverTag& m) { return decode_with(data, m, kHandOverTag); }

std::string encode_change(const HandOverTag& tag, const ChangeEvent& ev) {
    Out o;
    kHandOverTag(o, tag);
    kChange(o, ev);
    return o.take();
}

bool decode_change(std::string_view data, HandOverTag& tag, ChangeEvent& ev) {
    In in(data);
    return kHandOverTag(in, tag) && kChange(in, ev) && in.done();
}
bool decode(std::string_view data, RouteCheck& m) { return decode_with(data, m, kRouteCheck); }

std::string encode(const InspectQuery& m) { return encode_with(m, kInspectQuery); }
bool decode(std::string_view data, InspectQuery& m) { return decode_with(data, m, kInspectQuery); }

std::string encode(const InspectAnswer& m) { return encode_with(m, kInspectAnswer); }
bool decode(std::string_view data, InspectAnswer& m) { return decode_with(data, m, kInspectAnswer); }

std::string encode(const KeptAsk& m) { return encode_with(m, kKeptAsk); }
bool decode(std::string_view data, KeptAsk& m) { return decode_with(data, m, kKeptAsk); }

std::string encode(const KeptHandOver& m) { return encode_with(m, kKeptHandOver); }
bool decode(std::string_view data, KeptHandOver& m) { return decode_with(data, m, kKeptHandOver); }

}  // namespace rt::cluster
