// Parsing plugin documents into what the relay routes and what clients receive.
#include "relay/slot/plugin_doc.h"

#include <cstdio>
#include <cstdlib>

#include "relay/core/json.h"
#include "relay/core/topic.h"

namespace rt {
namespace {

// A decoded string member ("" if absent or not a string).
std::string string_member(std::string_view raw) {
    if (raw.empty() || raw.front() != '"') return {};
    json::Document d;
    if (!json::parse(d, raw) || !d.IsString()) return {};
    return std::string(d.GetString(), d.GetStringLength());
}

bool read_targets(std::string_view raw, PluginDoc& out, std::string& error) {
    if (raw.empty()) return true;
    json::Document targets;
    if (!json::parse(targets, raw, &error) || !targets.IsObject()) {
        error = "targets is not an object";
        return false;
    }
    for (auto& node : targets.GetObject()) {
        if (!node.value.IsArray()) {
            error = "targets entries must be arrays of ids";
            return false;
        }
        std::vector<int64_t> ids;
        ids.reserve(node.value.Size());
        for (auto& id : node.value.GetArray())
            if (id.IsInt64()) ids.push_back(id.GetInt64());
        out.targets.emplace_back(std::string(node.name.GetString(), node.name.GetStringLength()), std::move(ids));
    }
    return true;
}

}  // namespace

uint64_t parse_lsn(std::string_view text) {
    unsigned int hi = 0, lo = 0;
    std::string s(text);
    if (sscanf(s.c_str(), "%X/%X", &hi, &lo) != 2) return 0;
    return (static_cast<uint64_t>(hi) << 32) | lo;
}

std::string format_lsn(uint64_t lsn) {
    char buf[32];
    snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32), static_cast<unsigned>(lsn & 0xffffffff));
    return buf;
}

namespace {

// The members of a document as raw spans: values are never decoded here, so records keep
// their numbers and strings exactly as Postgres wrote them, and large records are never
// parsed.
struct Members {
    std::vector<json::RawMember> list;
    std::string_view operator()(std::string_view key) const {
        for (const json::RawMember& m : list)
            if (m.key == key) return m.value;
        return {};
    }
};

void read_broadcast(const Members& raw, PluginDoc& out) {
    out.type = PluginDoc::Type::Broadcast;
    BroadcastMsg& b = out.broadcast;
    b.topic = topic::normalize(string_member(raw("topic")));
    b.event = string_member(raw("event"));
    std::string_view payload = raw("payload");
    b.payload = payload.empty() ? "{}" : std::string(payload);
    b.is_private = raw("private") == "true";
    std::string_view id = raw("id");
    if (!id.empty()) b.meta_json = "{\"id\":" + std::string(id) + "}";
    b.pos = out.pos;
}

// The "data" clients receive: the row's members in the design's order, errors last.
void read_row(const Members& raw, size_t size, PluginDoc& out) {
    out.type = PluginDoc::Type::Row;
    std::string& d = out.data_json;
    d.reserve(size);
    d.push_back('{');
    bool first = true;
    for (const char* key : {"schema", "table", "commit_timestamp", "type", "columns", "record", "old_record"}) {
        std::string_view v = raw(key);
        if (v.empty()) continue;
        if (!first) d.push_back(',');
        first = false;
        d += "\"";
        d += key;
        d += "\":";
        d.append(v);
    }
    std::string_view errors = raw("errors");
    d += ",\"errors\":";
    d.append(errors.empty() ? std::string_view("null") : errors);
    d.push_back('}');
}

}  // namespace

bool parse_plugin_doc(std::string_view text, PluginDoc& out, std::string& error) {
    Members raw;
    if (!json::object_members(text, raw.list)) {
        error = "not a JSON object";
        return false;
    }
    std::string type = string_member(raw("type"));
    out.pos.commit_lsn = parse_lsn(string_member(raw("commit_lsn")));
    std::string_view index = raw("change_index");
    out.pos.change_index = index.empty() ? 0 : static_cast<uint32_t>(strtoul(std::string(index).c_str(), nullptr, 10));
    if (!read_targets(raw("targets"), out, error)) return false;

    if (type == "SUBSCRIBED") {
        out.type = PluginDoc::Type::Subscribed;
    } else if (type == "BROADCAST") {
        read_broadcast(raw, out);
    } else if (type == "INSERT" || type == "UPDATE" || type == "DELETE") {
        read_row(raw, text.size(), out);
    } else {
        error = "unknown document type '" + type + "'";
        return false;
    }
    return true;
}

}  // namespace rt
