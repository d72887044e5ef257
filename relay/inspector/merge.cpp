// Merging the nodes' parts of an inspector's answer.
#include "relay/inspector/merge.h"

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>

#include "relay/core/json.h"

namespace rt::inspector {
namespace {

using json::Value;
using json::Writer;

// The parts that parse as objects naming their node.
std::vector<std::unique_ptr<json::Document>> read_parts(const std::vector<std::string>& parts) {
    std::vector<std::unique_ptr<json::Document>> docs;
    for (const std::string& text : parts) {
        auto d = std::make_unique<json::Document>();
        if (json::parse(*d, text) && d->IsObject() && json::member(*d, "node")) docs.push_back(std::move(d));
    }
    return docs;
}

std::string str(const Value& obj, const char* key) { return std::string(json::string_or(json::member(obj, key), "")); }

uint64_t num(const Value& obj, const char* key) {
    const Value* v = json::member(obj, key);
    return v && v->IsUint64() ? v->GetUint64() : 0;
}

void string_list(Writer& w, const char* key, const std::vector<std::string>& items) {
    w.Key(key);
    w.StartArray();
    for (const std::string& s : items) w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    w.EndArray();
}

void per_node(Writer& w, const char* key, const std::map<std::string, uint64_t>& counts) {
    w.Key(key);
    w.StartObject();
    for (const auto& [node, n] : counts) {
        w.Key(node.c_str(), static_cast<rapidjson::SizeType>(node.size()));
        w.Uint64(n);
    }
    w.EndObject();
}

struct ChannelRow {
    std::string topic;
    bool is_private = false;
    std::map<std::string, uint64_t> members;
    uint64_t total = 0, presence = 0, bindings = 0, broadcasts = 0;
};

// Every node fans a broadcast out to its own members: a channel's count is the most any
// node saw, not their sum.
void add_row(ChannelRow& row, const std::string& node, const Value& item) {
    row.topic = str(item, "topic");
    const Value* priv = json::member(item, "private");
    row.is_private = priv && priv->IsBool() && priv->GetBool();
    uint64_t m = num(item, "members");
    row.members[node] = m;
    row.total += m;
    row.presence += num(item, "presence");
    row.bindings += num(item, "bindings");
    row.broadcasts = std::max(row.broadcasts, num(item, "broadcasts"));
}

void channel_rows(Writer& w, std::map<std::string, ChannelRow>& rows, size_t limit) {
    std::vector<std::pair<const std::string*, const ChannelRow*>> order;
    for (const auto& [key, row] : rows) order.emplace_back(&key, &row);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
        if (a.second->total != b.second->total) return a.second->total > b.second->total;
        if (a.second->broadcasts != b.second->broadcasts) return a.second->broadcasts > b.second->broadcasts;
        return *a.first < *b.first;
    });
    if (order.size() > limit) order.resize(limit);
    w.Key("list");
    w.StartArray();
    for (const auto& [key, row] : order) {
        w.StartObject();
        w.Key("key");
        w.String(key->c_str(), static_cast<rapidjson::SizeType>(key->size()));
        w.Key("topic");
        w.String(row->topic.c_str(), static_cast<rapidjson::SizeType>(row->topic.size()));
        w.Key("private");
        w.Bool(row->is_private);
        per_node(w, "members", row->members);
        w.Key("total");
        w.Uint64(row->total);
        w.Key("presence");
        w.Uint64(row->presence);
        w.Key("bindings");
        w.Uint64(row->bindings);
        w.Key("broadcasts");
        w.Uint64(row->broadcasts);
        w.EndObject();
    }
    w.EndArray();
}

}  // namespace

std::string merge_channels(const std::vector<std::string>& parts, const std::vector<std::string>& missing,
                           std::string_view query, size_t limit) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("query");
    w.String(query.data(), static_cast<rapidjson::SizeType>(query.size()));
    w.Key("limit");
    w.Uint64(limit);
    string_list(w, "missing", missing);
    std::map<std::string, ChannelRow> rows;
    w.Key("nodes");
    w.StartObject();
    for (const auto& d : read_parts(parts)) {
        std::string node = str(*d, "node");
        w.Key(node.c_str(), static_cast<rapidjson::SizeType>(node.size()));
        w.StartObject();
        w.Key("channels");
        w.Uint64(num(*d, "channels"));
        w.Key("matched");
        w.Uint64(num(*d, "matched"));
        w.EndObject();
        const Value* list = json::member(*d, "list");
        if (list && list->IsArray())
            for (const Value& item : list->GetArray()) add_row(rows[str(item, "key")], node, item);
    }
    w.EndObject();
    channel_rows(w, rows, limit);
    w.EndObject();
    return buf.GetString();
}

namespace {

using SubKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
struct SubRow {
    std::map<std::string, uint64_t> members;
    uint64_t live = 0;
};

void collect_subscriptions(const std::string& node, const Value& part, std::map<SubKey, SubRow>& subs) {
    const Value* list = json::member(part, "subscriptions");
    if (!list || !list->IsArray()) return;
    for (const Value& s : list->GetArray()) {
        SubRow& row = subs[SubKey{str(s, "event"), str(s, "schema"), str(s, "table"), str(s, "filter"), str(s, "role")}];
        row.members[node] += num(s, "members");
        row.live += num(s, "live");
    }
}

void subscriptions_json(Writer& w, const std::map<SubKey, SubRow>& subs) {
    w.Key("subscriptions");
    w.StartArray();
    const char* names[] = {"event", "schema", "table", "filter", "role"};
    for (const auto& [key, row] : subs) {
        w.StartObject();
        std::string fields[] = {std::get<0>(key), std::get<1>(key), std::get<2>(key), std::get<3>(key),
                                std::get<4>(key)};
        for (size_t i = 0; i < 5; ++i) {
            w.Key(names[i]);
            w.String(fields[i].c_str(), static_cast<rapidjson::SizeType>(fields[i].size()));
        }
        per_node(w, "members", row.members);
        w.Key("live");
        w.Uint64(row.live);
        w.EndObject();
    }
    w.EndArray();
}

// out: the items of each part's list in_key, each with its node added.
void tagged_items(Writer& w, const char* out, const char* in_key, const std::vector<std::unique_ptr<json::Document>>& docs) {
    w.Key(out);
    w.StartArray();
    for (const auto& d : docs) {
        std::string node = str(*d, "node");
        const Value* list = json::member(*d, in_key);
        if (!list || !list->IsArray()) continue;
        for (const Value& item : list->GetArray()) {
            if (!item.IsObject()) continue;
            w.StartObject();
            w.Key("node");
            w.String(node.c_str(), static_cast<rapidjson::SizeType>(node.size()));
            for (const auto& m : item.GetObject()) {
                w.Key(m.name.GetString(), m.name.GetStringLength());
                m.value.Accept(w);
            }
            w.EndObject();
        }
    }
    w.EndArray();
}

}  // namespace

std::string merge_channel(const std::vector<std::string>& parts, const std::vector<std::string>& missing,
                          std::string_view topic, bool is_private) {
    auto docs = read_parts(parts);
    std::map<std::string, uint64_t> members;
    std::map<SubKey, SubRow> subs;
    uint64_t total = 0, broadcasts = 0, presence = 0;
    for (const auto& d : docs) {
        std::string node = str(*d, "node");
        members[node] = num(*d, "members");
        total += members[node];
        broadcasts = std::max(broadcasts, num(*d, "broadcasts"));
        presence += num(*d, "presence");
        collect_subscriptions(node, *d, subs);
    }
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("topic");
    w.String(topic.data(), static_cast<rapidjson::SizeType>(topic.size()));
    w.Key("private");
    w.Bool(is_private);
    string_list(w, "missing", missing);
    per_node(w, "members", members);
    w.Key("total");
    w.Uint64(total);
    w.Key("broadcasts");
    w.Uint64(broadcasts);
    tagged_items(w, "member_list", "member_list", docs);
    subscriptions_json(w, subs);
    w.Key("presence");
    w.StartObject();
    w.Key("entries");
    w.Uint64(presence);
    tagged_items(w, "list", "presence_list", docs);
    w.EndObject();
    w.EndObject();
    return buf.GetString();
}

}  // namespace rt::inspector
