// The documents of the pg_realtime output plugin as the relay reads them, and the
// postgres_changes payload clients get. Pure logic, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relay/core/events.h"

namespace rt {

struct PluginDoc {
    enum class Type { Row, Broadcast, Subscribed };
    Type type = Type::Row;
    ChangePos pos;
    std::vector<std::pair<std::string, std::vector<int64_t>>> targets;  // node -> ids
    std::string data_json;   // Row: {"schema","table","commit_timestamp","type","columns","record","old_record","errors"}
    BroadcastMsg broadcast;  // Broadcast
};

bool parse_plugin_doc(std::string_view text, PluginDoc& out, std::string& error);

// {"ids":[...],"data":<data_json>}
std::string postgres_changes_payload(const std::vector<int64_t>& ids, std::string_view data_json);

// "16/B374D848" -> 0x16B374D848; 0 when malformed.
uint64_t parse_lsn(std::string_view text);
std::string format_lsn(uint64_t lsn);

}  // namespace rt
