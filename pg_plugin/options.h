/*
 * options.h: the options a client passes to the pg_realtime output plugin.
 *
 * Owns their names, defaults and validation. Parsing is plain code that raises a
 * Postgres ERROR for unknown options and bad values, so a client learns at once that it
 * mistyped an option instead of silently getting the defaults.
 */
#ifndef PG_REALTIME_OPTIONS_H
#define PG_REALTIME_OPTIONS_H

#include "pg_headers.h"

struct PluginOptions
{
	/* Also emit changes that match no subscription, with empty targets. */
	bool		include_unmatched = false;
	/* Emit a SUBSCRIBED document at the commit of a transaction that subscribed. */
	bool		subscription_events = false;
	/*
	 * Arrays as JSON arrays (elements typed like to_json does) instead of their text
	 * output in a string. realtime-js parses array text with a comma split that breaks
	 * on quoted elements and NULLs, so the relay asks for JSON, as Supabase sends.
	 */
	bool		arrays_as_json = false;
	/* A record whose JSON is larger keeps only its small values (the 413 rule). */
	int64		max_record_bytes = 1024 * 1024;
};

/* Fills *options from ctx->output_plugin_options (a List of DefElem). */
void		parse_plugin_options(List *defels, PluginOptions *options);

#endif
