// Reading a postgres_changes binding, and Supabase's texts for one that cannot be subscribed.
#include "relay/protocol/binding_params.h"

#include <cctype>
#include <vector>

namespace rt::binding_params {
namespace {

const char* const kOperators[] = {"eq", "neq", "lt", "lte", "gt", "gte", "in",
                                  "like", "ilike", "is", "match", "imatch", "isdistinct"};

// One condition as Supabase parses it: {column, operator, value, negate}.
struct Term {
    std::string column, op, value;
    bool negate = false;
};

std::string_view trim(std::string_view s) {
    size_t b = s.find_first_not_of(" \t\r\n\f\v");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n\f\v") - b + 1);
}

// A string as Elixir's inspect writes it ("a\"b").
void append_inspected(std::string& out, std::string_view s) {
    out.push_back('"');
    for (char c : s) {
        if (c == '"' || c == '\\') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

std::string inspected_list(std::initializer_list<std::string_view> parts) {
    std::string out = "[";
    for (std::string_view p : parts) {
        if (out.size() > 1) out += ", ";
        append_inspected(out, p);
    }
    return out + "]";
}

// Splits at commas outside parentheses and double quotes (a quote opens only after
// '.', '(' or ','; inside one a backslash escapes), as Supabase's split_top_level/6.
std::vector<std::string_view> split_top_level(std::string_view f) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    int depth = 0;
    bool quoted = false;
    char prev = 0;
    for (size_t i = 0; i < f.size(); ++i) {
        char c = f[i];
        if (quoted) {
            if (c == '\\' && i + 1 < f.size()) c = f[++i];
            else if (c == '"') quoted = false;
        } else if (c == '"' && (prev == '.' || prev == '(' || prev == ',')) {
            quoted = true;
        } else if (c == '(') {
            ++depth;
        } else if (c == ')') {
            depth = depth > 0 ? depth - 1 : 0;
        } else if (c == ',' && depth == 0) {
            parts.push_back(f.substr(start, i - start));
            start = i + 1;
            c = 0;
        }
        prev = c;
    }
    parts.push_back(f.substr(start));
    return parts;
}

// A wholly quoted value loses its quotes and escapes; anything else stays as it is.
std::string unquoted(std::string_view v) {
    if (v.empty() || v[0] != '"') return std::string(v);
    std::string acc;
    for (size_t i = 1; i < v.size(); ++i) {
        if (v[i] == '"') return i + 1 == v.size() ? acc : std::string(v);
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        acc.push_back(v[i]);
    }
    return std::string(v);
}

// One segment as parse_segment/1 reads it: the term, or the error.
std::optional<std::string> parse_segment(std::string_view segment, Term& t) {
    std::string_view s = trim(segment);
    if (s.empty()) return std::string("filter must not contain empty segments (check for extra commas)");
    size_t eq = s.find('=');
    if (eq == std::string_view::npos) return inspected_list({s});
    t.column = std::string(s.substr(0, eq));
    std::string_view rest = s.substr(eq + 1);
    t.negate = rest.substr(0, 4) == "not.";
    if (t.negate) rest.remove_prefix(4);
    size_t dot = rest.find('.');
    if (dot == std::string_view::npos) return inspected_list({rest});
    t.op = std::string(rest.substr(0, dot));
    std::string_view value = rest.substr(dot + 1);
    bool known = false;
    for (const char* op : kOperators) known = known || t.op == op;
    if (!known) return inspected_list({t.op, value});
    if (t.op != "in") {
        t.value = unquoted(value);
        return std::nullopt;
    }
    if (value.size() < 2 || value.front() != '(' || value.back() != ')')
        return std::string("`in` filter value must be wrapped by parentheses");
    t.value = "{" + std::string(value.substr(1, value.size() - 2)) + "}";
    return std::nullopt;
}

std::optional<std::string> parse_filter(std::string_view filter, std::vector<Term>& terms) {
    std::string_view f = trim(filter);
    if (f.empty()) return std::nullopt;
    for (std::string_view segment : split_top_level(f)) {
        Term t;
        if (auto error = parse_segment(segment, t)) return error;
        terms.push_back(std::move(t));
    }
    return std::nullopt;
}

// "event: *, schema: public, table: t, filters: [{"id", "eq", "1", false}], select: nil",
// as Supabase logs a binding's parameters.
std::string params_text(const BindingSpec& spec) {
    std::vector<Term> terms;
    parse_filter(spec.filter, terms);
    std::string out = "event: " + spec.event + ", schema: " + spec.schema + ", table: " + spec.table + ", filters: [";
    for (size_t i = 0; i < terms.size(); ++i) {
        if (i) out += ", ";
        out.push_back('{');
        append_inspected(out, terms[i].column);
        out += ", ";
        append_inspected(out, terms[i].op);
        out += ", ";
        append_inspected(out, terms[i].value);
        out += terms[i].negate ? ", true}" : ", false}";
    }
    out += "], select: ";
    if (spec.select.empty()) return out + "nil";
    out.push_back('[');
    for (size_t i = 0; i < spec.select.size(); ++i) {
        if (i) out += ", ";
        append_inspected(out, spec.select[i]);
    }
    return out + "]";
}

}  // namespace

std::optional<std::string> filter_error(std::string_view filter) {
    std::vector<Term> terms;
    return parse_filter(filter, terms);
}

std::string read(const json::Value& item, BindingSpec& spec) {
    std::string event(json::string_or(json::member(item, "event"), "*"));
    for (char& c : event) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    spec.event = event == "INSERT" || event == "UPDATE" || event == "DELETE" ? event : "*";
    const json::Value* schema = json::member(item, "schema");
    const json::Value* table = json::member(item, "table");
    spec.schema = std::string(json::string_or(schema, "public"));
    spec.table = std::string(json::string_or(table, "*"));
    spec.filter = std::string(json::string_or(json::member(item, "filter"), ""));
    const json::Value* select = json::member(item, "select");
    if (select && select->IsString())
        return "Error parsing `select` params: expected a list of column name strings, e.g. select: [\"col1\", \"col2\"]";
    if (select && select->IsArray())  // as Supabase: the strings of the list (none: every column)
        for (const json::Value& c : select->GetArray())
            if (c.IsString()) spec.select.emplace_back(c.GetString(), c.GetStringLength());
    const bool has_filter = json::member(item, "filter") != nullptr;
    if (((!schema || !schema->IsString()) && (!table || !table->IsString())) ||
        (spec.whole_schema() && !table && has_filter))  // Supabase reads a filter only with a table
        return "No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: " +
               json::stringify(item);
    if (auto error = filter_error(spec.filter)) return "Error parsing `filter` params: " + *error;
    if ((spec.whole_schema() || spec.schema == "*") && !spec.select.empty())
        return "Column selection is not supported for wildcard subscriptions. Provide an explicit schema and table "
               "name.";
    if (spec.schema == "*")  // ours: Supabase covers every published schema
        return "Unable to subscribe to changes with given parameters: a binding on every schema is not supported; "
               "name the schema [" + params_text(spec) + "]";
    if (spec.whole_schema() && !spec.filter.empty())  // ours: Supabase tries the filter on every table
        return "Unable to subscribe to changes with given parameters: a filter needs a table, not \"*\" [" +
               params_text(spec) + "]";
    return {};
}

std::string refused(const BindingSpec& spec, bool unknown_table, std::string_view db_message) {
    if (unknown_table)
        return "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given "
               "connect parameters: [" + params_text(spec) + "]";
    return "Unable to subscribe to changes with given parameters. An exception happened so please check your connect "
           "parameters: [" + params_text(spec) + "]. Exception: " + std::string(db_message);
}

}  // namespace rt::binding_params
