/*
 * json_value.h: one typed value written as JSON, the way Supabase sends it.
 *
 * Owns the value format of `record` and `old_record` (docs/architecture.md, "Values").
 * Supabase's value for a column is Postgres' to_jsonb of the typed value (its
 * realtime.cast of wal2json's text), except where wal2json's text of a column whose type
 * is exactly bytea, float4, float8 or numeric got there first: bytea as hex digits
 * without "\x", NaN and the infinities as null. So, by the to_jsonb category of the
 * type under its domains: numbers as JSON numbers (NaN and infinities as strings),
 * booleans, json and jsonb embedded, date, timestamp and timestamptz in ISO 8601
 * (timestamptz in UTC, "+00:00"), arrays as JSON arrays and composites as JSON objects
 * of those same rules, types with a cast to json (hstore, PostGIS) through that cast,
 * and everything else as its text output in a string.
 *
 * A ValueFormat is built once per relation attribute (relation_shape.cpp) with every
 * catalog lookup done then: writing a row calls no syscache. Composite values are
 * checked against the row type they were built for (typcache) and written through a
 * fresh format if the type changed since. Plain code (see pg_guard.h).
 */
#ifndef PG_REALTIME_JSON_VALUE_H
#define PG_REALTIME_JSON_VALUE_H

#include "pg_headers.h"

enum class JsonKind : uint8
{
	Int2, Int4, Int8, Float4, Float8, Numeric, Bool, Json, Jsonb, Text, DateTime,
	Interval, Bytea, HexDigits, Array, Composite, JsonCast, Other
};

struct ValueFormat
{
	JsonKind	kind;
	bool		special_as_null;	/* numbers: NaN and infinities as null */
	Oid			typid;			/* under its domains */
	MemoryContext memory;		/* where it lives (a composite is refreshed there) */
	FmgrInfo	function;		/* output function, or the cast to json */
	/* Array: its elements. */
	const ValueFormat *element;
	Oid			elmtype;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	/* Composite: the row type and, per attribute, its quoted name and format. */
	uint64		tupdesc_id;
	int			nfields;
	const ValueFormat **fields; /* NULL for dropped attributes */
	char	  **field_names;	/* "name": */
};

/*
 * The format of a column of type typid (top_level: a column of the table, to which the
 * wal2json exceptions apply; arrays_as_json: arrays at that level as JSON arrays
 * rather than their text). Allocated in CurrentMemoryContext.
 */
const ValueFormat *value_format_create(Oid typid, bool top_level, bool arrays_as_json);

/* Appends the JSON of a non-NULL value. */
void		write_json_value(StringInfo out, const ValueFormat *format, Datum value);

#endif
