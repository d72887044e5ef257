// A node's answer to an inspector's question, from the hub's channels and presence.
#include "relay/hub/inspect.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>
#include <vector>

#include "relay/core/json.h"

namespace rt {
namespace {

using json::Writer;

void field(Writer& w, const char* key, std::string_view value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void field(Writer& w, const char* key, uint64_t value) {
    w.Key(key);
    w.Uint64(value);
}

bool contains_folded(std::string_view text, std::string_view part) {
    if (part.empty()) return true;
    auto fold = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
    return std::search(text.begin(), text.end(), part.begin(), part.end(),
                       [&](char a, char b) { return fold(a) == fold(b); }) != text.end();
}

size_t own_presence(const PresenceStore& presence, const std::string& key) {
    const auto& entries = presence.of_topic(key);
    return static_cast<size_t>(std::count_if(entries.begin(), entries.end(),
                                             [](const PresenceEntry& e) { return e.node.empty(); }));
}

size_t binding_count(const Channel& ch) {
    size_t n = 0;
    for (const Member* m : ch.members) n += m->bindings.size();
    return n;
}

// The busiest first: most members, then most broadcasts, then by topic.
bool busier(const Channel* a, const Channel* b) {
    if (a->members.size() != b->members.size()) return a->members.size() > b->members.size();
    if (a->broadcasts != b->broadcasts) return a->broadcasts > b->broadcasts;
    return a->topic < b->topic;
}

// One pass over the channels, keeping the `limit` busiest in a heap.
std::string channels_answer(const InspectQuery& q, const std::string& node, const Channels& channels,
                            const PresenceStore& presence) {
    size_t limit = std::clamp<uint32_t>(q.limit, 1, kInspectMaxLimit);
    std::vector<const Channel*> top;
    size_t matched = 0;
    channels.for_each([&](const Channel& ch) {
        if (ch.members.empty() || !contains_folded(ch.topic, q.arg)) return;
        ++matched;
        if (top.size() < limit) {
            top.push_back(&ch);
            std::push_heap(top.begin(), top.end(), busier);  // the least busy on top
        } else if (busier(&ch, top.front())) {
            std::pop_heap(top.begin(), top.end(), busier);
            top.back() = &ch;
            std::push_heap(top.begin(), top.end(), busier);
        }
    });
    std::sort(top.begin(), top.end(), busier);

    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    field(w, "node", node);
    field(w, "channels", channels.count());
    field(w, "matched", matched);
    w.Key("list");
    w.StartArray();
    for (const Channel* ch : top) {
        w.StartObject();
        field(w, "key", ch->key);
        field(w, "topic", ch->topic);
        w.Key("private");
        w.Bool(ch->is_private);
        field(w, "members", ch->members.size());
        field(w, "presence", own_presence(presence, ch->key));
        field(w, "bindings", binding_count(*ch));
        field(w, "broadcasts", ch->broadcasts);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return buf.GetString();
}

void member_json(Writer& w, const Member& m) {
    w.StartObject();
    field(w, "id", m.id);
    field(w, "connection", m.conn->id);
    field(w, "vsn", m.conn->vsn == phoenix::Vsn::V2 ? "2.0.0" : "1.0.0");
    field(w, "role", m.claims().role);
    field(w, "sub", m.claims().sub);
    field(w, "presence_key", m.presence_key);
    w.Key("presence");
    w.Bool(m.presence_enabled);
    field(w, "bindings", m.bindings.size());
    w.EndObject();
}

// The channel's bindings, grouped by what they ask for and who asks.
void subscriptions_json(Writer& w, const Channel& ch) {
    using Key = std::tuple<std::string, std::string, std::string, std::string, std::string>;
    std::map<Key, std::pair<uint64_t, uint64_t>> groups;  // -> (members, live)
    for (const Member* m : ch.members)
        for (const Binding& b : m->bindings) {
            auto& g = groups[Key{b.spec.event, b.spec.schema, b.spec.table, b.spec.filter, m->claims().role}];
            g.first++;
            g.second += b.live;
        }
    w.StartArray();
    size_t n = 0;
    for (const auto& [key, counts] : groups) {
        if (n++ == kInspectListed) break;
        w.StartObject();
        field(w, "event", std::get<0>(key));
        field(w, "schema", std::get<1>(key));
        field(w, "table", std::get<2>(key));
        field(w, "filter", std::get<3>(key));
        field(w, "role", std::get<4>(key));
        field(w, "members", counts.first);
        field(w, "live", counts.second);
        w.EndObject();
    }
    w.EndArray();
}

void presence_json(Writer& w, const PresenceStore& presence, const std::string& key) {
    w.StartArray();
    size_t n = 0;
    for (const PresenceEntry& e : presence.of_topic(key)) {
        if (!e.node.empty()) continue;
        if (n++ == kInspectListed) break;
        w.StartObject();
        field(w, "key", e.key);
        field(w, "phx_ref", e.phx_ref);
        w.Key("meta");
        std::string_view meta = e.meta_json.empty() ? std::string_view("{}") : std::string_view(e.meta_json);
        w.RawValue(meta.data(), meta.size(), rapidjson::kObjectType);  // parsed when it was tracked
        w.EndObject();
    }
    w.EndArray();
}

std::string channel_answer(const InspectQuery& q, const std::string& node, const Channels& channels,
                           const PresenceStore& presence) {
    const Channel* ch = channels.find(q.arg);
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    field(w, "node", node);
    field(w, "key", q.arg);
    field(w, "members", ch ? ch->members.size() : 0);
    field(w, "broadcasts", ch ? ch->broadcasts : 0);
    field(w, "presence", own_presence(presence, q.arg));
    field(w, "bindings", ch ? binding_count(*ch) : 0);
    w.Key("member_list");
    w.StartArray();
    if (ch)
        for (size_t i = 0; i < ch->members.size() && i < kInspectListed; ++i) member_json(w, *ch->members[i]);
    w.EndArray();
    w.Key("subscriptions");
    if (ch) {
        subscriptions_json(w, *ch);
    } else {
        w.StartArray();
        w.EndArray();
    }
    w.Key("presence_list");
    presence_json(w, presence, q.arg);
    w.EndObject();
    return buf.GetString();
}

}  // namespace

std::string inspect_answer(const InspectQuery& q, const std::string& node, const Channels& channels,
                           const PresenceStore& presence) {
    if (q.kind == InspectQuery::Kind::Channel) {
        // A key that is not UTF-8 (a peer's question: the mesh takes any bytes) names no
        // channel, every topic being UTF-8, and is not echoed: the writer copies bytes as
        // they are, and the asker could not read the answer (found by fuzz_hub).
        if (!json::is_utf8(q.arg))
            return channel_answer(InspectQuery{q.id, q.kind, "", q.limit}, node, channels, presence);
        return channel_answer(q, node, channels, presence);
    }
    return channels_answer(q, node, channels, presence);
}

}  // namespace rt
