// The "data" of a postgres_changes push, built from a row document on the slot holder:
// the whole row, or a column view's part of it (only the view's columns in "columns",
// "record" and "old_record", in the document's order). Values are copied as the plugin
// wrote them, never re-encoded. Pure logic, no I/O.
#pragma once

#include <string>
#include <vector>

#include "relay/slot/plugin_doc.h"

namespace rt {

// {"schema","table","commit_timestamp","type","columns","record","old_record","errors"}
// of doc; columns: the view's columns (nullptr: all of them).
std::string change_data(const PluginDoc& doc, const std::vector<std::string>* columns);

}  // namespace rt
