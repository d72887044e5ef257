// The documents of the pg_realtime output plugin as the relay reads them (design 3.3,
// plus change_index, the SUBSCRIBED document, and row level security's views, checks
// and failed: docs/architecture.md, "Row level security and column views in the
// document"). Pure logic, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relay/core/events.h"

namespace rt {

// node -> subscription ids, as the document lists them.
using NodeIds = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// A group of subscribers that needs less than the whole row, or a check (views[]).
struct DocView {
    bool all_columns = true;           // no "columns": every column
    std::vector<std::string> columns;  // the columns they receive, when !all_columns
    int check = -1;                    // index in checks; -1: none
    NodeIds targets;
};

// A check of the general path (checks[]): evaluated by realtime.check_rows.
struct DocCheck {
    std::string role;
    bool per_user = false;
    std::vector<std::string> quals;
};

// A subscription the plugin can no longer serve (failed).
struct DocFailure {
    int64_t id = 0;
    std::string message;
};

struct PluginDoc {
    enum class Type { Row, Broadcast, Subscribed };
    // A row's members as spans of text (offsets, so that moving the document keeps them).
    struct Span {
        size_t offset = 0, size = 0;
        bool empty() const { return size == 0; }
    };
    struct RowSpans {
        Span schema, table, commit_timestamp, type, columns, record, old_record, errors;
    };

    Type type = Type::Row;
    ChangePos pos;
    NodeIds targets;
    BroadcastMsg broadcast;  // Broadcast

    // Row
    std::string text;  // the document as the plugin wrote it
    RowSpans row;
    std::string schema, table;  // decoded
    std::vector<DocView> views;
    std::vector<DocCheck> checks;
    std::string check_row;  // the row image checks are evaluated on (record text)
    std::vector<std::pair<std::string, std::vector<DocFailure>>> failed;  // node -> failures

    std::string_view span(Span s) const { return std::string_view(text).substr(s.offset, s.size); }
};

bool parse_plugin_doc(std::string_view text, PluginDoc& out, std::string& error);

// "16/B374D848" -> 0x16B374D848; 0 when malformed.
uint64_t parse_lsn(std::string_view text);
std::string format_lsn(uint64_t lsn);

}  // namespace rt
