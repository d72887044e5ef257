/*
 * filter_syntax.h: splitting the text of Supabase filters, for the extension's SQL.
 *
 * Owns realtime._split_filter, the SQL-callable function of pg_realtime.so that splits
 * a filter into its conditions exactly as Supabase's server does
 * (Extensions.PostgresCdcRls.Subscriptions.split_top_level): commas separate
 * conditions except inside parentheses and double quotes; a double quote opens a
 * quoted stretch only after '.', '(' or ',', and inside one a backslash escapes the next
 * byte. It is C so that the split is one linear pass: the PL/pgSQL before it built
 * strings one character at a time, quadratic in the filter's length. Reading each
 * condition and the typed checks stay in sql/filter.sql. Plain code (see pg_guard.h).
 */
#ifndef PG_REALTIME_FILTER_SYNTAX_H
#define PG_REALTIME_FILTER_SYNTAX_H

#include "pg_headers.h"

extern "C"
{
/* realtime._split_filter(filter text) RETURNS text[]: the conditions, trimmed. */
PGDLLEXPORT Datum pg_realtime_split_filter(PG_FUNCTION_ARGS);
}

#endif
