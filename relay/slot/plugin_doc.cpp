// Parsing plugin documents into what the slot holder routes and decides.
#include "relay/slot/plugin_doc.h"

#include <cstdio>
#include <cstdlib>

#include "relay/core/json.h"
#include "relay/core/topic.h"
#include "relay/protocol/base64url.h"

namespace rt {
namespace {

// A decoded string member ("" if absent or not a string).
std::string string_member(std::string_view raw) {
    if (raw.empty() || raw.front() != '"') return {};
    json::Document d;
    if (!json::parse(d, raw) || !d.IsString()) return {};
    return std::string(d.GetString(), d.GetStringLength());
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

// A broadcast from the database: a JSON payload, or a binary one as base64 (only vsn
// 2.0.0 members can receive those); the row's id travels as meta {"id"}, as Supabase's.
bool read_broadcast(const Members& raw, PluginDoc& out, std::string& error) {
    out.type = PluginDoc::Type::Broadcast;
    BroadcastMsg& b = out.broadcast;
    b.topic = topic::normalize(string_member(raw("topic")));
    b.event = string_member(raw("event"));
    std::string_view binary = raw("binary_payload");
    if (!binary.empty()) {
        b.json_payload = false;
        if (!base64url::decode_padded(string_member(binary), b.payload)) {
            error = "binary_payload is not base64";
            return false;
        }
    } else {
        std::string_view payload = raw("payload");
        b.payload = payload.empty() ? "{}" : std::string(payload);
    }
    b.is_private = raw("private") == "true";
    b.id = string_member(raw("id"));
    if (!b.id.empty()) {
        b.meta_json = "{\"id\":";
        json::append_string(b.meta_json, b.id);
        b.meta_json.push_back('}');
    }
    b.pos = out.pos;
    return true;
}

std::vector<int64_t> id_list(const json::Value& list) {
    std::vector<int64_t> ids;
    ids.reserve(list.Size());
    for (auto& id : list.GetArray())
        if (id.IsInt64()) ids.push_back(id.GetInt64());
    return ids;
}

// {"node":[...],...} where each list holds what item reads; false when malformed.
template <typename Item, typename Read>
bool per_node(const json::Value& obj, std::vector<std::pair<std::string, std::vector<Item>>>& out, Read read) {
    if (!obj.IsObject()) return false;
    for (auto& node : obj.GetObject()) {
        if (!node.value.IsArray()) return false;
        std::vector<Item> items;
        if (!read(node.value, items)) return false;
        out.emplace_back(std::string(node.name.GetString(), node.name.GetStringLength()), std::move(items));
    }
    return true;
}

bool read_ids(const json::Value& list, std::vector<int64_t>& ids) {
    ids = id_list(list);
    return true;
}

bool read_targets(std::string_view raw, PluginDoc& out, std::string& error) {
    if (raw.empty()) return true;
    json::Document targets;
    if (!json::parse(targets, raw, &error) || !per_node(targets, out.targets, read_ids)) {
        error = "targets must be an object of arrays of ids";
        return false;
    }
    return true;
}

bool read_failures(const json::Value& list, std::vector<DocFailure>& out) {
    for (auto& f : list.GetArray()) {
        const json::Value* id = json::member(f, "id");
        if (!id || !id->IsInt64()) return false;
        out.push_back({id->GetInt64(), std::string(json::string_or(json::member(f, "message"), ""))});
    }
    return true;
}

bool read_views(std::string_view raw, PluginDoc& out) {
    json::Document d;
    if (!json::parse(d, raw) || !d.IsArray()) return false;
    for (auto& v : d.GetArray()) {
        DocView view;
        const json::Value* columns = json::member(v, "columns");
        if (columns && columns->IsArray()) {
            view.all_columns = false;
            for (auto& c : columns->GetArray())
                if (c.IsString()) view.columns.emplace_back(c.GetString(), c.GetStringLength());
        }
        const json::Value* check = json::member(v, "check");
        if (check && check->IsInt()) view.check = check->GetInt();
        const json::Value* targets = json::member(v, "targets");
        if (!targets || !per_node(*targets, view.targets, read_ids)) return false;
        out.views.push_back(std::move(view));
    }
    return true;
}

bool read_checks(std::string_view raw, PluginDoc& out) {
    json::Document d;
    if (!json::parse(d, raw) || !d.IsArray()) return false;
    for (auto& c : d.GetArray()) {
        DocCheck check;
        check.role = std::string(json::string_or(json::member(c, "role"), ""));
        check.per_user = json::bool_or(json::member(c, "per_user"), false);
        const json::Value* quals = json::member(c, "quals");
        if (!quals || !quals->IsArray()) return false;
        for (auto& q : quals->GetArray())
            if (q.IsString()) check.quals.emplace_back(q.GetString(), q.GetStringLength());
        out.checks.push_back(std::move(check));
    }
    return true;
}

// Views naming a check that is not there, or checks without a row, cannot be decided:
// the document is refused rather than delivered on doubt.
bool checks_consistent(const PluginDoc& out) {
    for (const DocView& v : out.views)
        if (v.check >= static_cast<int>(out.checks.size()) || (v.check >= 0 && out.check_row.empty())) return false;
    return true;
}

PluginDoc::Span span_of(const PluginDoc& out, std::string_view value) {
    if (value.empty()) return {};
    return {static_cast<size_t>(value.data() - out.text.data()), value.size()};
}

// The members change_data sends on as written have the shape clients expect: strings,
// record and old_record objects, columns an array, errors null or an array. The scan
// (json::object_members) matched their brackets and quotes; what is inside is Postgres's
// (found by fuzz_plugin_doc: a record "i{...}" went out as the data's record).
bool row_shaped(const Members& raw) {
    auto is = [&](const char* key, char first) {
        std::string_view v = raw(key);
        return v.empty() || v.front() == first;
    };
    std::string_view errors = raw("errors");
    return is("schema", '"') && is("table", '"') && is("type", '"') && is("commit_timestamp", '"') &&
           is("record", '{') && is("old_record", '{') && is("columns", '[') &&
           (errors.empty() || errors == "null" || errors.front() == '[');
}

bool read_row(const Members& raw, PluginDoc& out, std::string& error) {
    if (!row_shaped(raw)) {
        error = "a row member of the wrong kind (record, old_record, columns, errors or a name)";
        return false;
    }
    out.type = PluginDoc::Type::Row;
    PluginDoc::RowSpans& r = out.row;
    r.schema = span_of(out, raw("schema"));
    r.table = span_of(out, raw("table"));
    r.commit_timestamp = span_of(out, raw("commit_timestamp"));
    r.type = span_of(out, raw("type"));
    r.columns = span_of(out, raw("columns"));
    r.record = span_of(out, raw("record"));
    r.old_record = span_of(out, raw("old_record"));
    r.errors = span_of(out, raw("errors"));
    out.schema = string_member(raw("schema"));
    out.table = string_member(raw("table"));
    out.check_row = string_member(raw("check_row"));
    std::string_view views = raw("views"), checks = raw("checks"), failed = raw("failed");
    json::Document f;
    if ((!views.empty() && !read_views(views, out)) || (!checks.empty() && !read_checks(checks, out)) ||
        (!failed.empty() && !(json::parse(f, failed) && per_node(f, out.failed, read_failures)))) {
        error = "malformed views, checks or failed";
        return false;
    }
    if (!checks_consistent(out)) {
        error = "a view names a check the document does not carry";
        return false;
    }
    return true;
}

}  // namespace

bool parse_plugin_doc(std::string_view text, PluginDoc& out, std::string& error) {
    out.text.assign(text);
    Members raw;
    if (!json::object_members(out.text, raw.list)) {
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
        if (!read_broadcast(raw, out, error)) return false;
    } else if (type == "INSERT" || type == "UPDATE" || type == "DELETE") {
        return read_row(raw, out, error);
    } else {
        error = "unknown document type '" + type + "'";
        return false;
    }
    out.text.clear();  // only rows are read again later
    return true;
}

}  // namespace rt
