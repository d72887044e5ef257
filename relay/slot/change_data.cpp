// Row documents' data, whole or narrowed to a view's columns.
#include "relay/slot/change_data.h"

#include <algorithm>

#include "relay/core/json.h"

namespace rt {
namespace {

// A raw key (between its quotes, escapes untouched) as the name it spells.
std::string key_name(std::string_view raw) {
    if (raw.find('\\') == std::string_view::npos) return std::string(raw);
    json::Document d;
    std::string quoted = "\"" + std::string(raw) + "\"";
    return json::parse(d, quoted) && d.IsString() ? std::string(d.GetString(), d.GetStringLength()) : std::string();
}

bool wanted(const std::vector<std::string>& columns, std::string_view name) {
    return std::find(columns.begin(), columns.end(), name) != columns.end();
}

// An object's members whose key is among columns.
void append_narrowed_object(std::string& out, std::string_view raw, const std::vector<std::string>& columns) {
    std::vector<json::RawMember> members;
    if (!json::object_members(raw, members)) {
        out += "{}";
        return;
    }
    out.push_back('{');
    bool first = true;
    for (const json::RawMember& m : members) {
        if (!wanted(columns, key_name(m.key))) continue;
        if (!first) out.push_back(',');
        first = false;
        out.push_back('"');
        out.append(m.key);
        out += "\":";
        out.append(m.value);
    }
    out.push_back('}');
}

// The entries of "columns" ([{"name","type"},...]) whose name is among columns.
void append_narrowed_columns(std::string& out, std::string_view raw, const std::vector<std::string>& columns) {
    json::Document d;
    if (!json::parse(d, raw) || !d.IsArray()) {
        out += "[]";
        return;
    }
    out.push_back('[');
    bool first = true;
    for (const json::Value& c : d.GetArray()) {
        if (!wanted(columns, json::string_or(json::member(c, "name"), ""))) continue;
        if (!first) out.push_back(',');
        first = false;
        out += json::stringify(c);
    }
    out.push_back(']');
}

void append_member(std::string& out, bool& first, const char* key) {
    if (!first) out.push_back(',');
    first = false;
    out += "\"";
    out += key;
    out += "\":";
}

}  // namespace

std::string change_data(const PluginDoc& doc, const std::vector<std::string>* columns) {
    const PluginDoc::RowSpans& r = doc.row;
    std::string d;
    d.reserve(doc.text.size());
    d.push_back('{');
    bool first = true;
    const std::pair<const char*, PluginDoc::Span> plain[] = {
        {"schema", r.schema}, {"table", r.table}, {"commit_timestamp", r.commit_timestamp}, {"type", r.type}};
    for (const auto& [key, span] : plain) {
        if (span.empty()) continue;
        append_member(d, first, key);
        d.append(doc.span(span));
    }
    if (!r.columns.empty()) {
        append_member(d, first, "columns");
        if (columns)
            append_narrowed_columns(d, doc.span(r.columns), *columns);
        else
            d.append(doc.span(r.columns));
    }
    const std::pair<const char*, PluginDoc::Span> records[] = {{"record", r.record}, {"old_record", r.old_record}};
    for (const auto& [key, span] : records) {
        if (span.empty()) continue;
        append_member(d, first, key);
        if (columns)
            append_narrowed_object(d, doc.span(span), *columns);
        else
            d.append(doc.span(span));
    }
    d += ",\"errors\":";
    d.append(r.errors.empty() ? std::string_view("null") : doc.span(r.errors));
    d.push_back('}');
    return d;
}

}  // namespace rt
