/*
 * filter_syntax.h: reading the text of Supabase filters, for the extension's SQL.
 *
 * Owns the SQL-callable functions of pg_realtime.so that split filter text
 * (realtime._split_top_level). They are C so that parsing is one linear pass: the
 * PL/pgSQL that preceded them built strings one character at a time, quadratic in the
 * filter's length. Typed validation (columns, values, operators) stays in
 * sql/filter.sql. Plain code over plain data (see pg_guard.h): nothing here throws.
 */
#ifndef PG_REALTIME_FILTER_SYNTAX_H
#define PG_REALTIME_FILTER_SYNTAX_H

#include "pg_headers.h"

extern "C"
{
/* realtime._split_top_level(s text, sep text, parens boolean) RETURNS text[] */
PGDLLEXPORT Datum pg_realtime_split_top_level(PG_FUNCTION_ARGS);
}

#endif
