// The documents of the pg_realtime output plugin as the relay reads them (design 3.3,
// plus change_index and the SUBSCRIBED document). Pure logic, no I/O.
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

// "16/B374D848" -> 0x16B374D848; 0 when malformed.
uint64_t parse_lsn(std::string_view text);
std::string format_lsn(uint64_t lsn);

}  // namespace rt
