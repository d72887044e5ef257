// Reading a phx_join payload: flags with Supabase's defaults, and the postgres_changes
// bindings with their checks.
#include "relay/protocol/join_config.h"

#include <cctype>

namespace rt {
namespace {

bool flag(const json::Value* section, const char* name) {
    return json::bool_or(section ? json::member(*section, name) : nullptr, false);
}

// Appends the bindings of config.postgres_changes; false with a reason when malformed.
bool parse_bindings(const json::Value* config, std::vector<BindingRequest>& out, std::string& error) {
    const json::Value* list = config ? json::member(*config, "postgres_changes") : nullptr;
    if (!list || list->IsNull()) return true;
    if (!list->IsArray()) {
        error = "postgres_changes must be a list of {event, schema, table, filter}";
        return false;
    }
    for (const json::Value& item : list->GetArray()) {
        if (!item.IsObject()) {
            error = "each postgres_changes binding must be an object";
            return false;
        }
        BindingRequest b;
        std::string event(json::string_or(json::member(item, "event"), "*"));
        for (char& c : event) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
        b.spec.event = event == "INSERT" || event == "UPDATE" || event == "DELETE" ? event : "*";
        b.spec.schema = std::string(json::string_or(json::member(item, "schema"), "public"));
        b.spec.table = std::string(json::string_or(json::member(item, "table"), ""));
        b.spec.filter = std::string(json::string_or(json::member(item, "filter"), ""));
        if (b.spec.table.empty() || b.spec.table == "*") {
            error = "postgres_changes binding on schema \"" + b.spec.schema +
                    "\" needs a table: subscribing to every table of a schema is not supported yet";
            return false;
        }
        if (b.spec.schema == "*") {
            error = "postgres_changes binding needs a schema name, not \"*\"";
            return false;
        }
        b.echo_json = json::stringify(item);
        out.push_back(std::move(b));
    }
    return true;
}

// The join's own token as Supabase reads it: "user_token" stands for "access_token" and
// wins over it, except that an "sb_" API key in the first of them present means the
// socket's token (which hub/auth does with any "sb_" token).
std::string join_token(const json::Value* payload) {
    const json::Value* access = payload ? json::member(*payload, "access_token") : nullptr;
    const json::Value* user = payload ? json::member(*payload, "user_token") : nullptr;
    std::string_view first = json::string_or(access && !access->IsNull() ? access : user, "");
    if (first.substr(0, 3) == "sb_") return std::string(first);
    return std::string(user && user->IsString() ? json::string_or(user, "") : json::string_or(access, ""));
}

// A JSON integer clamped to lo..hi (beyond int64 on either side: the nearer end).
int clamped(const json::Value& v, int lo, int hi) {
    if (v.IsUint64() && !v.IsInt64()) return hi;
    int64_t n = v.GetInt64();
    return static_cast<int>(n < lo ? lo : n > hi ? hi : n);
}

ReplayConfig parse_replay(const json::Value* broadcast) {
    ReplayConfig r;
    const json::Value* replay = broadcast ? json::member(*broadcast, "replay") : nullptr;
    if (!replay) return r;
    r.asked = true;
    r.requested = replay->IsObject();
    if (!r.requested) return r;
    const json::Value* since = json::member(*replay, "since");
    const json::Value* limit = json::member(*replay, "limit");
    bool limit_absent = !limit || limit->IsNull() || limit->IsFalse();  // Elixir's `limit || 25`
    r.valid = since && since->IsInt64() && (limit_absent || limit->IsInt64() || limit->IsUint64());
    if (!r.valid) return r;
    r.since = since->GetInt64();
    r.limit = limit_absent ? 25 : clamped(*limit, 1, 25);
    return r;
}

}  // namespace

JoinConfig parse_join_config(const json::Value* payload) {
    JoinConfig c;
    const json::Value* config = payload ? json::member(*payload, "config") : nullptr;
    const json::Value* bc = config ? json::member(*config, "broadcast") : nullptr;
    const json::Value* pr = config ? json::member(*config, "presence") : nullptr;
    c.self = flag(bc, "self");
    c.ack = flag(bc, "ack");
    c.replication_ready = flag(bc, "replication_ready");
    c.presence_enabled = flag(pr, "enabled");
    c.presence_key = std::string(json::string_or(pr ? json::member(*pr, "key") : nullptr, ""));
    c.is_private = flag(config, "private");
    c.replay = parse_replay(bc);
    c.access_token = join_token(payload);
    parse_bindings(config, c.bindings, c.bindings_error);
    return c;
}

}  // namespace rt
