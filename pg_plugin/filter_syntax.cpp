/*
 * filter_syntax.cpp: splitting filter text in one pass (see filter_syntax.h).
 * Plain code only.
 */
#include "filter_syntax.h"

extern "C"
{
PG_FUNCTION_INFO_V1(pg_realtime_split_filter);
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Adds bytes [start, end) to the array, without leading and trailing white space. */
static ArrayBuildState *
add_trimmed(ArrayBuildState *parts, const char *start, const char *end)
{
	while (start < end && is_blank(*start))
		start++;
	while (end > start && is_blank(end[-1]))
		end--;
	return accumArrayResult(parts,
							PointerGetDatum(cstring_to_text_with_len(start, (int) (end - start))),
							false, TEXTOID, CurrentMemoryContext);
}

/*
 * The bytes compared are ASCII, which no server encoding uses inside a multibyte
 * character, so a byte scan is a character scan. An unterminated quote runs to the end
 * of the text, as in Supabase (the condition then keeps its quote in its value).
 */
Datum
pg_realtime_split_filter(PG_FUNCTION_ARGS)
{
	text	   *input = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(input);
	const char *end = s + VARSIZE_ANY_EXHDR(input);
	const char *segment = s;
	ArrayBuildState *parts = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	bool		quoted = false;
	int			depth = 0;
	char		prev = '\0';	/* the byte before, outside quotes; none at a start */

	for (const char *p = s; p < end; p++)
	{
		if (quoted)
		{
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				quoted = false;
			prev = *p;
			continue;
		}
		if (*p == '"' && (prev == '.' || prev == '(' || prev == ','))
			quoted = true;
		else if (*p == '(')
			depth++;
		else if (*p == ')')
			depth = Max(depth - 1, 0);
		else if (*p == ',' && depth == 0)
		{
			parts = add_trimmed(parts, segment, p);
			segment = p + 1;
			prev = '\0';
			continue;
		}
		prev = *p;
	}
	parts = add_trimmed(parts, segment, end);
	PG_RETURN_DATUM(makeArrayResult(parts, CurrentMemoryContext));
}
