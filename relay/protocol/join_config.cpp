// Reading a phx_join payload: flags with Supabase's defaults (booleans also as strings in
// any case), the presence key, the join's token, and the postgres_changes bindings.
#include "relay/protocol/join_config.h"

#include "relay/protocol/binding_params.h"

namespace rt {
namespace {

bool flag(const json::Value* section, const char* name) {
    return json::bool_or(section ? json::member(*section, name) : nullptr, false);
}

// Appends the bindings of config.postgres_changes (as Supabase: anything but a list is
// none, null entries are dropped); false with a reason when an entry is not an object.
bool parse_bindings(const json::Value* config, std::vector<BindingRequest>& out, std::string& error) {
    const json::Value* list = config ? json::member(*config, "postgres_changes") : nullptr;
    if (!list || !list->IsArray()) return true;
    for (const json::Value& item : list->GetArray()) {
        if (item.IsNull()) continue;
        if (!item.IsObject()) {
            error = "each postgres_changes binding must be an object";
            return false;
        }
        BindingRequest b;
        b.error = binding_params::read(item, b.spec);
        b.echo_json = json::stringify(item);
        out.push_back(std::move(b));
    }
    return true;
}

// presence.key: a string, or a number or boolean as its JSON text (Supabase keys presence
// by any value); anything else is no key.
std::string presence_key(const json::Value* presence) {
    const json::Value* key = presence ? json::member(*presence, "key") : nullptr;
    if (!key) return {};
    if (key->IsString()) return std::string(key->GetString(), key->GetStringLength());
    if (key->IsNumber() || key->IsBool()) return json::stringify(*key);
    return {};
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
    c.presence_key = presence_key(pr);
    c.is_private = flag(config, "private");
    c.replay = parse_replay(bc);
    c.access_token = join_token(payload);
    parse_bindings(config, c.bindings, c.bindings_error);
    return c;
}

}  // namespace rt
