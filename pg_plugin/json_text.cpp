/*
 * json_text.cpp: JSON text primitives (see json_text.h).
 */
#include "json_text.h"

#include <cstdio>

/* Bytes that must be escaped inside a JSON string: quote, backslash, controls. */
static inline bool
needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

static void
append_escape(StringInfo out, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	switch (c)
	{
		case '"':
			appendBinaryStringInfo(out, "\\\"", 2);
			break;
		case '\\':
			appendBinaryStringInfo(out, "\\\\", 2);
			break;
		case '\n':
			appendBinaryStringInfo(out, "\\n", 2);
			break;
		case '\r':
			appendBinaryStringInfo(out, "\\r", 2);
			break;
		case '\t':
			appendBinaryStringInfo(out, "\\t", 2);
			break;
		case '\b':
			appendBinaryStringInfo(out, "\\b", 2);
			break;
		case '\f':
			appendBinaryStringInfo(out, "\\f", 2);
			break;
		default:
			{
				char		buf[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};

				appendBinaryStringInfo(out, buf, 6);
			}
	}
}

void
append_json_string(StringInfo out, const char *s, size_t len)
{
	size_t		run_start = 0;

	/* Most strings need no escaping: copy runs of plain bytes in one go. */
	enlargeStringInfo(out, (int) len + 2);
	appendStringInfoCharMacro(out, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!needs_escape(c))
			continue;
		if (i > run_start)
			appendBinaryStringInfo(out, s + run_start, (int) (i - run_start));
		append_escape(out, c);
		run_start = i + 1;
	}
	if (len > run_start)
		appendBinaryStringInfo(out, s + run_start, (int) (len - run_start));
	appendStringInfoCharMacro(out, '"');
}

void
append_json_cstring(StringInfo out, const char *s)
{
	append_json_string(out, s, strlen(s));
}

void
append_json_base64(StringInfo out, const char *data, int len)
{
	int			encoded_len = pg_b64_enc_len(len);
	int			written;

	enlargeStringInfo(out, encoded_len + 2);
	appendStringInfoCharMacro(out, '"');
	written = pg_b64_encode(data, len, out->data + out->len, encoded_len);
	if (written < 0)
		elog(ERROR, "pg_realtime: could not encode %d bytes as base64", len);
	out->len += written;
	appendStringInfoCharMacro(out, '"');
}

void
append_json_int64(StringInfo out, int64 value)
{
	char		buf[MAXINT8LEN + 1];
	int			len = pg_lltoa(value, buf);

	appendBinaryStringInfo(out, buf, len);
}

void
append_json_key(StringInfo out, const char *key)
{
	appendStringInfoCharMacro(out, '"');
	appendStringInfoString(out, key);
	appendBinaryStringInfo(out, "\":", 2);
}

void
format_lsn(char *buf, XLogRecPtr lsn)
{
	/* LSN_FORMAT_ARGS is C-only (it asserts the type with a C builtin). */
	snprintf(buf, LSN_TEXT_SIZE, "%X/%X", (uint32) (lsn >> 32), (uint32) lsn);
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian), H. Hinnant's method. */
static void
civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
	int64_t		z = days + 719468;
	int64_t		era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t		doe = z - era * 146097;
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;

	*day = (int) (doy - (153 * mp + 2) / 5 + 1);
	*month = (int) (mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

void
format_commit_time(char *buf, TimestampTz time)
{
	const int64_t usecs_per_day = INT64CONST(86400000000);
	/* Postgres counts from 2000-01-01; the civil calendar code from 1970-01-01. */
	int64_t		unix_usecs = time + (int64_t) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * usecs_per_day;
	int64_t		days = unix_usecs / usecs_per_day;
	int64_t		rest = unix_usecs % usecs_per_day;
	int64_t		year;
	int			month;
	int			day;

	if (rest < 0)
	{
		rest += usecs_per_day;
		days -= 1;
	}
	civil_from_days(days, &year, &month, &day);
	snprintf(buf, TIMESTAMP_TEXT_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 (int) year, month, day,
			 (int) (rest / INT64CONST(3600000000)),
			 (int) (rest / 60000000 % 60),
			 (int) (rest / 1000000 % 60),
			 (int) (rest / 1000 % 1000));
}
