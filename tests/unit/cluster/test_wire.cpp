// cluster/wire: mesh routing keys, headers and message bodies.
#include <gtest/gtest.h>

#include <string>

#include "cluster/wire.h"

using namespace rt;
using namespace rt::cluster;

namespace {

PresenceEntry entry(uint64_t owner, std::string key, std::string ref, std::string prev, std::string meta) {
    PresenceEntry e;
    e.owner = owner;
    e.key = std::move(key);
    e.phx_ref = std::move(ref);
    e.phx_ref_prev = std::move(prev);
    e.meta_json = std::move(meta);
    return e;
}

void expect_same(const PresenceEntry& a, const PresenceEntry& b) {
    EXPECT_EQ(a.owner, b.owner);
    EXPECT_EQ(a.key, b.key);
    EXPECT_EQ(a.phx_ref, b.phx_ref);
    EXPECT_EQ(a.phx_ref_prev, b.phx_ref_prev);
    EXPECT_EQ(a.meta_json, b.meta_json);
}

// Every strict prefix of an encoded message is refused, and so is one byte more.
template <typename T>
void expect_truncations_refused(const std::string& encoded) {
    for (size_t n = 0; n < encoded.size(); ++n) {
        T out;
        EXPECT_FALSE(decode(std::string_view(encoded).substr(0, n), out)) << n << " of " << encoded.size() << " bytes";
    }
    T out;
    EXPECT_FALSE(decode(encoded + "x", out)) << "trailing byte accepted";
}

}  // namespace

TEST(WireRouting, Keys) {
    EXPECT_EQ(routing_heartbeat(), "H");
    EXPECT_EQ(routing_inspect(), "Q");
    EXPECT_EQ(routing_presence(), "P");
    EXPECT_EQ(routing_node("node-a"), std::string("N:node-a\0", 9));
    EXPECT_EQ(routing_broadcast("realtime:room1"), std::string("B:realtime:room1\0", 17));
}

TEST(WireRouting, NulTerminatorKeepsPrefixesApart) {
    // SUB sockets match by prefix: room1's key must not match room10's messages.
    std::string room1 = routing_broadcast("realtime:room1");
    std::string room10 = routing_broadcast("realtime:room10");
    EXPECT_NE(room10.rfind(room1, 0), 0u);
    EXPECT_EQ(room1.rfind(room1, 0), 0u);
    EXPECT_NE(routing_node("a1").rfind(routing_node("a"), 0), 0u);
    // Node and broadcast keys never collide with each other or the fixed keys.
    EXPECT_NE(routing_node("x").rfind(routing_broadcast(""), 0), 0u);
    EXPECT_NE(routing_node("x")[0], routing_heartbeat()[0]);
    EXPECT_NE(routing_broadcast("x")[0], routing_presence()[0]);
}

TEST(WireHeader, RoundTripsEveryType) {
    for (MsgType t : {MsgType::Heartbeat, MsgType::Broadcast, MsgType::PresenceDelta, MsgType::SnapshotRequest,
                      MsgType::Snapshot, MsgType::Change, MsgType::RouteProbe, MsgType::RouteAck,
                      MsgType::HandOverAck, MsgType::HandOverBase ,
                      MsgType::InspectQuery, MsgType::InspectAnswer}) {
        Header h{t, "node-é", 0xFEDCBA9876543210ULL, 0x0123456789ABCDEFULL};
        Header out;
        ASSERT_TRUE(decode_header(encode_header(h), out)) << int(t);
        EXPECT_EQ(out.type, t);
        EXPECT_EQ(out.node, "node-é");
        EXPECT_EQ(out.incarnation, 0xFEDCBA9876543210ULL);
        EXPECT_EQ(out.seq, 0x0123456789ABCDEFULL);
    }
}

TEST(WireHeader, EmptyNodeRoundTrips) {
    Header out;
    ASSERT_TRUE(decode_header(encode_header(Header{MsgType::Change, "", 0, 0}), out));
    EXPECT_EQ(out.node, "");
    EXPECT_EQ(out.type, MsgType::Change);
}

TEST(WireHeader, TruncatedOrExtendedIsRefused) {
    std::string enc = encode_header(Header{MsgType::Broadcast, "node-a", 7, 9});
    for (size_t n = 0; n < enc.size(); ++n) {
        Header out;
        EXPECT_FALSE(decode_header(enc.substr(0, n), out)) << n;
    }
    Header out;
    EXPECT_FALSE(decode_header(enc + "x", out));
}

TEST(WireHeader, UnknownVersionOrTypeIsRefused) {
    std::string enc = encode_header(Header{MsgType::Broadcast, "n", 1, 1});
    Header out;
    std::string bad_version = enc;
    bad_version[0] = static_cast<char>(enc[0] + 1);  // the next version: not ours
    EXPECT_FALSE(decode_header(bad_version, out));
    for (int type : {0, rt::cluster::kLastMsgType + 1, 100}) {
        std::string bad_type = enc;
        bad_type[1] = type;
        EXPECT_FALSE(decode_header(bad_type, out)) << int(type);
    }
}

TEST(WireHeartbeat, RoundTrip) {
    Heartbeat hb{"tcp://10.0.0.1:5800", "eu-west", 12345, true, false};
    Heartbeat out;
    ASSERT_TRUE(decode(encode(hb), out));
    EXPECT_EQ(out.endpoint, "tcp://10.0.0.1:5800");
    EXPECT_EQ(out.region, "eu-west");
    EXPECT_EQ(out.presence_seq, 12345u);
    EXPECT_TRUE(out.competes);
    EXPECT_FALSE(out.slot_holder);
    Heartbeat holder{"", "", 0, false, true};
    ASSERT_TRUE(decode(encode(holder), out));
    EXPECT_FALSE(out.competes);
    EXPECT_TRUE(out.slot_holder);
    EXPECT_EQ(out.endpoint, "");
}

TEST(WireHeartbeat, CarriesTheNodesReading) {
    Heartbeat hb{"tcp://h:1", "eu", 3, true, true};
    hb.reading.at_ms = 123456789;
    hb.reading.connections = 10000;
    hb.reading.slot_lag_ms = -1;  // signed fields keep their sign
    hb.reading.messages_in = 1ULL << 40;
    hb.reading.deliveries = 77;
    hb.reading.mesh_dropped = 5;
    hb.reading.latency = {1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    Heartbeat out;
    ASSERT_TRUE(decode(encode(hb), out));
    EXPECT_EQ(out.reading.at_ms, 123456789);
    EXPECT_EQ(out.reading.connections, 10000);
    EXPECT_EQ(out.reading.slot_lag_ms, -1);
    EXPECT_EQ(out.reading.messages_in, 1ULL << 40);
    EXPECT_EQ(out.reading.deliveries, 77u);
    EXPECT_EQ(out.reading.mesh_dropped, 5u);
    EXPECT_EQ(out.reading.latency, hb.reading.latency);
    EXPECT_TRUE(out.slot_holder);
}

TEST(WireInspect, QueryAndAnswerRoundTrip) {
    InspectQuery q{42, InspectQuery::Kind::Channel, "realtime:room-é", 7};
    InspectQuery qo;
    ASSERT_TRUE(decode(encode(q), qo));
    EXPECT_EQ(qo.id, 42u);
    EXPECT_EQ(qo.kind, InspectQuery::Kind::Channel);
    EXPECT_EQ(qo.arg, "realtime:room-é");
    EXPECT_EQ(qo.limit, 7u);
    expect_truncations_refused<InspectQuery>(encode(q));

    InspectAnswer a{42, R"({"node":"b","members":3})"};
    InspectAnswer ao;
    ASSERT_TRUE(decode(encode(a), ao));
    EXPECT_EQ(ao.id, 42u);
    EXPECT_EQ(ao.json, a.json);
    expect_truncations_refused<InspectAnswer>(encode(a));
}

TEST(WireInspect, UnknownQueryKindIsRefused) {
    std::string enc = encode(InspectQuery{1, InspectQuery::Kind::Channels, "", 5});
    InspectQuery out;
    enc[8] = 3;  // the kind follows the u64 id
    EXPECT_FALSE(decode(enc, out));
    enc[8] = 0;
    EXPECT_FALSE(decode(enc, out));
}

TEST(WireHeartbeat, TruncationsRefused) {
    expect_truncations_refused<Heartbeat>(encode(Heartbeat{"tcp://h:1", "r", 5, true, true}));
}

TEST(WireBroadcast, RoundTripWithBinaryPayload) {
    BroadcastMsg m;
    m.topic = "realtime:room1";
    m.event = "blob";
    m.payload = std::string("\x00\x01\xff\x00", 4);
    m.json_payload = false;
    m.binary_origin = true;
    m.meta_json = R"({"id":"x"})";
    m.id = "x";
    m.is_private = true;
    m.pos = {0x16B374D848ULL, 77};
    m.sent_ms = 1764590000123;
    BroadcastMsg out;
    ASSERT_TRUE(decode(encode(m), out));
    EXPECT_EQ(out.sent_ms, 1764590000123);
    EXPECT_EQ(out.id, "x");
    EXPECT_EQ(out.topic, m.topic);
    EXPECT_EQ(out.event, m.event);
    EXPECT_EQ(out.payload, m.payload);
    EXPECT_FALSE(out.json_payload);
    EXPECT_TRUE(out.binary_origin);
    EXPECT_EQ(out.meta_json, m.meta_json);
    EXPECT_TRUE(out.is_private);
    EXPECT_EQ(out.pos.commit_lsn, 0x16B374D848ULL);
    EXPECT_EQ(out.pos.change_index, 77u);
}

TEST(WireBroadcast, RoundTripDefaults) {
    BroadcastMsg m;
    m.topic = "realtime:r";
    m.event = "e";
    m.payload = "{}";
    BroadcastMsg out;
    out.json_payload = false;
    out.is_private = true;
    ASSERT_TRUE(decode(encode(m), out));
    EXPECT_TRUE(out.json_payload);
    EXPECT_FALSE(out.binary_origin);
    EXPECT_FALSE(out.is_private);
    EXPECT_TRUE(out.meta_json.empty());
    EXPECT_FALSE(out.pos.valid());
}

TEST(WireBroadcast, TruncationsRefused) {
    BroadcastMsg m;
    m.topic = "realtime:r";
    m.event = "e";
    m.payload = R"({"a":1})";
    m.meta_json = "{}";
    m.pos = {5, 6};
    expect_truncations_refused<BroadcastMsg>(encode(m));
}

TEST(WirePresenceDelta, JoinRoundTrip) {
    PresenceDelta d{true, "realtime:room1", entry(42, "alice", "Fabc", "Fprev", R"({"name":"Alice"})")};
    PresenceDelta out;
    ASSERT_TRUE(decode(encode(d), out));
    EXPECT_TRUE(out.join);
    EXPECT_EQ(out.topic, "realtime:room1");
    expect_same(out.entry, d.entry);
}

TEST(WirePresenceDelta, LeaveRoundTrip) {
    PresenceDelta d;
    d.join = false;
    d.topic = "realtime:room1";
    d.entry.owner = UINT64_MAX;
    PresenceDelta out;
    ASSERT_TRUE(decode(encode(d), out));
    EXPECT_FALSE(out.join);
    EXPECT_EQ(out.entry.owner, UINT64_MAX);
    EXPECT_EQ(out.entry.key, "");
}

TEST(WirePresenceDelta, TruncationsRefused) {
    expect_truncations_refused<PresenceDelta>(
        encode(PresenceDelta{true, "realtime:t", entry(1, "k", "r", "p", "{}")}));
}

TEST(WireSnapshot, RoundTripEmptyAndFull) {
    PresenceSnapshot empty;
    empty.presence_seq = 9;
    PresenceSnapshot out;
    ASSERT_TRUE(decode(encode(empty), out));
    EXPECT_EQ(out.presence_seq, 9u);
    EXPECT_TRUE(out.entries.empty());

    PresenceSnapshot s;
    s.presence_seq = 1234567890123ULL;
    s.entries.push_back({true, "realtime:a", entry(1, "k1", "r1", "", R"({"x":1})")});
    s.entries.push_back({true, "realtime:b", entry(2, "k2", "r2", "r0", "{}")});
    s.entries.push_back({true, "realtime:a", entry(3, "k3", "r3", "", R"({"nested":{"y":[1,2]}})")});
    ASSERT_TRUE(decode(encode(s), out));
    EXPECT_EQ(out.presence_seq, s.presence_seq);
    ASSERT_EQ(out.entries.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(out.entries[i].topic, s.entries[i].topic);
        EXPECT_TRUE(out.entries[i].join);
        expect_same(out.entries[i].entry, s.entries[i].entry);
    }
}

TEST(WireSnapshot, DecodingReplacesPreviousEntries) {
    PresenceSnapshot s;
    s.entries.push_back({true, "realtime:a", entry(1, "k", "r", "", "{}")});
    PresenceSnapshot out;
    out.entries.push_back({true, "stale", {}});
    ASSERT_TRUE(decode(encode(s), out));
    ASSERT_EQ(out.entries.size(), 1u);
    EXPECT_EQ(out.entries[0].topic, "realtime:a");
}

TEST(WireSnapshot, TruncationsRefused) {
    PresenceSnapshot s;
    s.presence_seq = 3;
    s.entries.push_back({true, "realtime:a", entry(1, "k", "r", "", "{}")});
    s.entries.push_back({true, "realtime:b", entry(2, "k", "r", "", "{}")});
    expect_truncations_refused<PresenceSnapshot>(encode(s));
}

TEST(WireSnapshot, EntryCountBeyondTheDataIsRefused) {
    PresenceSnapshot s;
    s.entries.push_back({true, "realtime:a", entry(1, "k", "r", "", "{}")});
    std::string enc = encode(s);
    enc[8] = static_cast<char>(200);  // the u32 count after the u64 presence_seq
    PresenceSnapshot out;
    EXPECT_FALSE(decode(enc, out));
}

namespace {
// A change as the holder hands it over, decoded again: its tag and event.
bool round_trip(const HandOverTag& tag, const ChangeEvent& ev, HandOverTag& tag_out, ChangeEvent& out) {
    return decode_change(encode_change(tag, ev), tag_out, out);
}
constexpr size_t kTagBytes = 8 * 3 + 1;  // stream, seq, base, lossy
}  // namespace

TEST(WireChange, RowRoundTripWithItsHandOverTag) {
    ChangeEvent ev;
    ev.kind = ChangeEvent::Kind::Row;
    ev.pos = {0xABCDEF0123ULL, 4};
    ev.groups = {{{1, -1, INT64_MAX, INT64_MIN}, R"({"ids":[1],"data":{"n":1.00}})"},
                 {{7}, R"({"ids":[7],"data":{"columns":[]}})"}};
    ev.notices = {{9, "permission denied for table todos", true}, {10, "check timed out", false}};
    ev.received_us = 999;  // local only, not sent
    HandOverTag tag{0x1234567890ULL, 17, 9, true}, tag_out;
    ChangeEvent out;
    ASSERT_TRUE(round_trip(tag, ev, tag_out, out));
    EXPECT_EQ(tag_out.stream, 0x1234567890ULL);
    EXPECT_EQ(tag_out.seq, 17u);
    EXPECT_EQ(tag_out.base, 9u);
    EXPECT_TRUE(tag_out.lossy);
    EXPECT_EQ(out.kind, ChangeEvent::Kind::Row);
    EXPECT_EQ(out.pos.commit_lsn, 0xABCDEF0123ULL);
    EXPECT_EQ(out.pos.change_index, 4u);
    ASSERT_EQ(out.groups.size(), 2u);
    EXPECT_EQ(out.groups[0].ids, ev.groups[0].ids);
    EXPECT_EQ(out.groups[0].payload, ev.groups[0].payload);
    EXPECT_EQ(out.groups[1].ids, ev.groups[1].ids);
    EXPECT_EQ(out.groups[1].payload, ev.groups[1].payload);
    ASSERT_EQ(out.notices.size(), 2u);
    EXPECT_EQ(out.notices[0].id, 9);
    EXPECT_EQ(out.notices[0].message, "permission denied for table todos");
    EXPECT_TRUE(out.notices[0].ended);
    EXPECT_FALSE(out.notices[1].ended);
    EXPECT_EQ(out.received_us, 0);
}

TEST(WireChange, SubscribedRoundTrip) {
    ChangeEvent ev;
    ev.kind = ChangeEvent::Kind::Subscribed;
    ev.pos = {10, 0};
    ev.groups = {{{5, 6}, ""}};
    HandOverTag tag_out;
    ChangeEvent out;
    out.groups = {{{99}, "x"}};
    ASSERT_TRUE(round_trip({1, 1, 1, false}, ev, tag_out, out));
    EXPECT_EQ(out.kind, ChangeEvent::Kind::Subscribed);
    ASSERT_EQ(out.groups.size(), 1u);
    EXPECT_EQ(out.groups[0].ids, (std::vector<int64_t>{5, 6}));
    EXPECT_TRUE(out.groups[0].payload.empty());
    EXPECT_TRUE(out.notices.empty());
}

TEST(WireChange, TruncationsTrailingBytesAndUnknownKindRefused) {
    ChangeEvent ev;
    ev.pos = {1, 2};
    ev.groups = {{{3, 4}, "{}"}};
    ev.notices = {{3, "m", false}};
    std::string enc = encode_change({1, 2, 1, false}, ev);
    for (size_t n = 0; n < enc.size(); ++n) {
        HandOverTag t;
        ChangeEvent out;
        EXPECT_FALSE(decode_change(std::string_view(enc).substr(0, n), t, out)) << n;
    }
    HandOverTag t;
    ChangeEvent out;
    EXPECT_FALSE(decode_change(enc + "x", t, out));
    std::string bad = enc;
    bad[kTagBytes] = 3;  // the kind after the tag (Row, Subscribed, Recovered are 0 to 2)
    EXPECT_FALSE(decode_change(bad, t, out));
}

TEST(WireChange, CountsBeyondTheDataAreRefused) {
    ChangeEvent ev;
    ev.groups = {{{1}, ""}};
    std::string enc = encode_change({}, ev);
    std::string groups = enc, ids = enc;
    groups[kTagBytes + 13] = static_cast<char>(0xff);  // the u32 group count after kind, lsn and index
    ids[kTagBytes + 17] = static_cast<char>(0xff);     // the first group's u32 id count
    HandOverTag t;
    ChangeEvent out;
    EXPECT_FALSE(decode_change(groups, t, out));
    EXPECT_FALSE(decode_change(ids, t, out));
}

TEST(WireHandOver, AcknowledgementsAndBaseNoticesRoundTrip) {
    HandOverAck ack{77, 1234, true}, ack_out;
    ASSERT_TRUE(decode(encode(ack), ack_out));
    EXPECT_EQ(ack_out.stream, 77u);
    EXPECT_EQ(ack_out.through, 1234u);
    EXPECT_TRUE(ack_out.resend);
    expect_truncations_refused<HandOverAck>(encode(ack));
    HandOverTag notice{77, 0, 40, true}, notice_out;
    ASSERT_TRUE(decode(encode(notice), notice_out));
    EXPECT_EQ(notice_out.base, 40u);
    EXPECT_TRUE(notice_out.lossy);
    expect_truncations_refused<HandOverTag>(encode(notice));
}

TEST(Wire, BroadcastTopicOfAChannelKeyOnly) {
    std::string topic;
    EXPECT_TRUE(rt::cluster::broadcast_topic(rt::cluster::routing_broadcast("realtime:room"), topic));
    EXPECT_EQ(topic, "realtime:room");
    EXPECT_FALSE(rt::cluster::broadcast_topic(rt::cluster::routing_node("node-a"), topic));
    EXPECT_FALSE(rt::cluster::broadcast_topic(rt::cluster::routing_heartbeat(), topic));
    EXPECT_FALSE(rt::cluster::broadcast_topic("B:", topic));
}

TEST(Wire, KindFrameRoundTrip) {
    rt::cluster::MsgType type;
    uint64_t seq = 0;
    std::string k = rt::cluster::encode_kind(rt::cluster::MsgType::PresenceDelta, 0x0102030405060708ULL);
    ASSERT_EQ(k.size(), 9u);
    ASSERT_TRUE(rt::cluster::decode_kind(k, type, seq));
    EXPECT_EQ(type, rt::cluster::MsgType::PresenceDelta);
    EXPECT_EQ(seq, 0x0102030405060708ULL);
    EXPECT_EQ(k[1], '\x08') << "little-endian";
    EXPECT_FALSE(rt::cluster::decode_kind(k.substr(0, 8), type, seq));
}

TEST(WireKept, AskAndHandOverRoundTrip) {
    KeptAsk ask{9, {77, 78}};
    KeptAsk asko;
    ASSERT_TRUE(decode(encode(ask), asko));
    EXPECT_EQ(asko.id, 9u);
    EXPECT_EQ(asko.subscriptions, (std::vector<int64_t>{77, 78}));
    expect_truncations_refused<KeptAsk>(encode(ask));

    KeptHandOver h;
    h.id = 9;
    h.handed = {77};
    h.missed_since_s = 1764600000;
    h.missed_why = 3;
    ChangeEvent ev;
    ev.kind = ChangeEvent::Kind::Row;
    ev.pos = {0x500, 2};
    ev.groups.push_back({{77}, R"({"ids":[77],"recovered":true,"data":{}})"});
    h.changes = {ev, ev};
    h.changes[1].pos = {0x600, 0};
    KeptHandOver ho;
    ASSERT_TRUE(decode(encode(h), ho));
    EXPECT_EQ(ho.id, 9u);
    EXPECT_EQ(ho.handed, h.handed);
    EXPECT_EQ(ho.missed_since_s, h.missed_since_s);
    EXPECT_EQ(ho.missed_why, 3);
    ASSERT_EQ(ho.changes.size(), 2u);
    EXPECT_EQ(ho.changes[1].pos.commit_lsn, 0x600u);
    EXPECT_EQ(ho.changes[0].pos.change_index, 2u);
    EXPECT_EQ(ho.changes[0].groups[0].payload, h.changes[0].groups[0].payload);
    EXPECT_EQ(ho.changes[0].groups[0].ids, (std::vector<int64_t>{77}));
    expect_truncations_refused<KeptHandOver>(encode(h));
}
