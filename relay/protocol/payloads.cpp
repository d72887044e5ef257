// Client payloads: JSON text assembled around already-serialized parts.
#include "relay/protocol/payloads.h"

#include "relay/core/json.h"

namespace rt::payloads {
namespace {

void append_ids(std::string& out, const std::vector<int64_t>& ids) {
    out += "{\"ids\":[";
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) out.push_back(',');
        out += std::to_string(ids[i]);
    }
}

}  // namespace

std::string reason(std::string_view reason) {
    std::string p = "{\"reason\":";
    json::append_string(p, reason);
    p.push_back('}');
    return p;
}

std::string reply(std::string_view status, std::string_view response_json) {
    std::string p = "{\"status\":";
    json::append_string(p, status);
    p += ",\"response\":";
    p.append(response_json);
    p.push_back('}');
    return p;
}

std::string system(std::string_view extension, std::string_view status, std::string_view message,
                   std::string_view channel) {
    std::string p = "{\"extension\":";
    json::append_string(p, extension);
    p += ",\"status\":";
    json::append_string(p, status);
    p += ",\"message\":";
    json::append_string(p, message);
    p += ",\"channel\":";
    json::append_string(p, channel);
    p.push_back('}');
    return p;
}

std::string broadcast(const BroadcastMsg& msg) {
    std::string p = "{\"type\":\"broadcast\",\"event\":";
    json::append_string(p, msg.event);
    p += ",\"payload\":";
    p += msg.payload;
    if (!msg.meta_json.empty()) {
        p += ",\"meta\":";
        p += msg.meta_json;
    }
    p.push_back('}');
    return p;
}

std::string postgres_changes(const std::vector<int64_t>& ids, std::string_view data_json) {
    std::string out;
    out.reserve(data_json.size() + 16 + ids.size() * 12);
    append_ids(out, ids);
    out += "],\"data\":";
    out.append(data_json);
    out.push_back('}');
    return out;
}

std::string postgres_changes_with_ids(std::string_view payload, const std::vector<int64_t>& ids) {
    std::string out;
    append_ids(out, ids);
    size_t end = payload.find(']');  // payload is {"ids":[<integers>],"data":...}
    if (end != std::string_view::npos) out.append(payload.substr(end));
    return out;
}

std::string recovered_with_ids(std::string_view payload, const std::vector<int64_t>& ids) {
    std::string out;
    append_ids(out, ids);
    out += "],\"recovered\":true";
    size_t end = payload.find(']');
    if (end != std::string_view::npos) out.append(payload.substr(end + 1));
    return out;
}

std::vector<int64_t> ids_of(std::string_view payload) {
    std::vector<int64_t> ids;
    size_t i = payload.find('[');
    size_t end = payload.find(']');
    if (i == std::string_view::npos || end == std::string_view::npos) return ids;
    int64_t v = 0;
    bool digits = false;
    for (++i; i <= end; ++i) {
        char c = payload[i];
        if (c >= '0' && c <= '9') {
            v = v * 10 + (c - '0');
            digits = true;
        } else {
            if (digits) ids.push_back(v);
            v = 0;
            digits = false;
        }
    }
    return ids;
}

ChangeGroup narrowed(const ChangeGroup& group, std::vector<int64_t> own) {
    ChangeGroup out;
    out.payload = postgres_changes_with_ids(group.payload, own);
    out.ids = std::move(own);
    return out;
}

}  // namespace rt::payloads
