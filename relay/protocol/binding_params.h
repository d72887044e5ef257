// A postgres_changes binding read as Supabase reads it (subscriptions.ex
// parse_subscription_params/1): its event, schema, table and filter, whether it can be
// subscribed at all (the filter's syntax, the shape of select), and Supabase's texts for
// one that cannot: "Error parsing `filter` params: ...", and "Unable to subscribe to
// changes with given parameters ..." when the database refuses it. A binding that cannot
// be subscribed still joins: the join is OK and its channel gets a system error for it.
// Pure logic, no I/O. (The database parses the filter again, typed: realtime.subscribe.)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "relay/core/events.h"
#include "relay/core/json.h"

namespace rt::binding_params {

// Reads item (a JSON object) into spec: a missing table, or "*", is every table of the
// schema; select's strings are the columns to send. Returns Supabase's message when the
// binding cannot be subscribed (a select on a whole schema, a filter without a table; a
// schema "*" is ours to refuse), else an empty string.
std::string read(const json::Value& item, BindingSpec& spec);

// Supabase's syntax check of a filter: nullopt when it parses, else the reason that
// follows "Error parsing `filter` params: " (e.g. ["foo", "hey"] for an unknown operator).
std::optional<std::string> filter_error(std::string_view filter);

// The message for a binding the database refused: unknown_table for a table (or schema)
// it does not know ("Please check Realtime is enabled ..."), else the database's message
// as the exception ("An exception happened ... Exception: <db_message>").
std::string refused(const BindingSpec& spec, bool unknown_table, std::string_view db_message);

}  // namespace rt::binding_params
