// Mesh message encoding: little-endian integers and u32-length-prefixed strings.
#include "cluster/wire.h"

#include "relay/core/bytes.h"

namespace rt::cluster {
namespace {

constexpr uint8_t kVersion = 1;

class Out {
public:
    void u8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
    void u32(uint32_t v) { bytes::put_le(s_, v); }
    void u64(uint64_t v) { bytes::put_le(s_, v); }
    void str(std::string_view v) {
        u32(static_cast<uint32_t>(v.size()));
        s_.append(v);
    }
    void entry(const PresenceEntry& e) {
        u64(e.owner);
        str(e.key);
        str(e.phx_ref);
        str(e.phx_ref_prev);
        str(e.meta_json);
    }
    std::string take() { return std::move(s_); }

private:
    std::string s_;
};

class In {
public:
    explicit In(std::string_view d) : d_(d) {}
    bool u8(uint8_t& v) {
        if (!need(1)) return false;
        v = static_cast<uint8_t>(d_[p_++]);
        return true;
    }
    bool flag(bool& v) {
        uint8_t b;
        if (!u8(b)) return false;
        v = b != 0;
        return true;
    }
    template <typename T>
    bool fixed(T& v) {
        if (!need(sizeof(T))) return false;
        v = bytes::get_le<T>(d_.data() + p_);
        p_ += sizeof(T);
        return true;
    }
    bool u32(uint32_t& v) { return fixed(v); }
    bool u64(uint64_t& v) { return fixed(v); }
    bool str(std::string& v) {
        uint32_t n;
        if (!u32(n) || !need(n)) return false;
        v.assign(d_.substr(p_, n));
        p_ += n;
        return true;
    }
    bool entry(PresenceEntry& e) {
        return u64(e.owner) && str(e.key) && str(e.phx_ref) && str(e.phx_ref_prev) && str(e.meta_json);
    }
    bool done() const { return p_ == d_.size(); }

private:
    bool need(size_t n) const { return d_.size() - p_ >= n; }
    std::string_view d_;
    size_t p_ = 0;
};

}  // namespace

std::string routing_heartbeat() { return "H"; }
std::string routing_presence() { return "P"; }

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
    if (type < 1 || type > 8) return false;
    out.type = static_cast<MsgType>(type);
    return true;
}

std::string encode(const Heartbeat& m) {
    Out o;
    o.str(m.endpoint);
    o.str(m.region);
    o.u64(m.presence_seq);
    o.u8(m.competes);
    o.u8(m.slot_holder);
    return o.take();
}

bool decode(std::string_view data, Heartbeat& m) {
    In in(data);
    return in.str(m.endpoint) && in.str(m.region) && in.u64(m.presence_seq) && in.flag(m.competes) &&
           in.flag(m.slot_holder) && in.done();
}

std::string encode(const BroadcastMsg& m) {
    Out o;
    o.str(m.topic);
    o.str(m.event);
    o.str(m.payload);
    o.u8(m.json_payload);
    o.u8(m.binary_origin);
    o.str(m.meta_json);
    o.u8(m.is_private);
    o.u64(m.pos.commit_lsn);
    o.u32(m.pos.change_index);
    return o.take();
}

bool decode(std::string_view data, BroadcastMsg& m) {
    In in(data);
    return in.str(m.topic) && in.str(m.event) && in.str(m.payload) && in.flag(m.json_payload) &&
           in.flag(m.binary_origin) && in.str(m.meta_json) && in.flag(m.is_private) && in.u64(m.pos.commit_lsn) &&
           in.u32(m.pos.change_index) && in.done();
}

std::string encode(const PresenceDelta& m) {
    Out o;
    o.u8(m.join);
    o.str(m.topic);
    o.entry(m.entry);
    return o.take();
}

bool decode(std::string_view data, PresenceDelta& m) {
    In in(data);
    return in.flag(m.join) && in.str(m.topic) && in.entry(m.entry) && in.done();
}

std::string encode(const PresenceSnapshot& m) {
    Out o;
    o.u64(m.presence_seq);
    o.u32(static_cast<uint32_t>(m.entries.size()));
    for (const PresenceDelta& d : m.entries) {
        o.str(d.topic);
        o.entry(d.entry);
    }
    return o.take();
}

bool decode(std::string_view data, PresenceSnapshot& m) {
    In in(data);
    uint32_t n;
    if (!in.u64(m.presence_seq) || !in.u32(n)) return false;
    m.entries.clear();
    for (uint32_t i = 0; i < n; ++i) {
        PresenceDelta d;
        if (!in.str(d.topic) || !in.entry(d.entry)) return false;
        m.entries.push_back(std::move(d));
    }
    return in.done();
}

std::string encode(const ChangeEvent& m) {
    Out o;
    o.u8(static_cast<uint8_t>(m.kind));
    o.u64(m.pos.commit_lsn);
    o.u32(m.pos.change_index);
    o.u32(static_cast<uint32_t>(m.ids.size()));
    for (int64_t id : m.ids) o.u64(static_cast<uint64_t>(id));
    o.str(m.payload);
    return o.take();
}

bool decode(std::string_view data, ChangeEvent& m) {
    In in(data);
    uint8_t kind;
    uint32_t n;
    if (!in.u8(kind) || kind > 1 || !in.u64(m.pos.commit_lsn) || !in.u32(m.pos.change_index) || !in.u32(n))
        return false;
    m.kind = static_cast<ChangeEvent::Kind>(kind);
    m.ids.clear();
    for (uint32_t i = 0; i < n; ++i) {
        uint64_t id;
        if (!in.u64(id)) return false;
        m.ids.push_back(static_cast<int64_t>(id));
    }
    return in.str(m.payload) && in.done();
}

std::string encode(const RouteCheck& m) {
    Out o;
    o.str(m.topic);
    o.str(m.asker);
    o.u64(m.token);
    return o.take();
}

bool decode(std::string_view data, RouteCheck& m) {
    In in(data);
    return in.str(m.topic) && in.str(m.asker) && in.u64(m.token) && in.done();
}

}  // namespace rt::cluster
