/*
 * json_text.h: the small JSON text primitives every document is made of.
 *
 * Owns JSON string escaping, base64 strings, integers, and the formats of LSNs ("%X/%X") and commit
 * timestamps (UTC, milliseconds, "Z"). Appends to a StringInfo, so callers are plain
 * code (see pg_guard.h).
 */
#ifndef PG_REALTIME_JSON_TEXT_H
#define PG_REALTIME_JSON_TEXT_H

#include "pg_headers.h"

/* Longest LSN text, "FFFFFFFF/FFFFFFFF", plus NUL. */
#define LSN_TEXT_SIZE 18
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" plus NUL, with room to spare for any int field. */
#define TIMESTAMP_TEXT_SIZE 64

/* Appends bytes [s, s+len) as a quoted, escaped JSON string. */
void		append_json_string(StringInfo out, const char *s, size_t len);
void		append_json_cstring(StringInfo out, const char *s);
/* Appends bytes [data, data+len) as a JSON string of their base64 (no line breaks). */
void		append_json_base64(StringInfo out, const char *data, int len);
void		append_json_int64(StringInfo out, int64 value);
/* Appends a literal key with its colon, e.g. append_json_key(out, "type") -> "type": */
void		append_json_key(StringInfo out, const char *key);

void		format_lsn(char *buf, XLogRecPtr lsn);
/* A Postgres timestamp (microseconds since 2000-01-01 UTC) as ISO 8601 UTC, in ms. */
void		format_commit_time(char *buf, TimestampTz time);

#endif
