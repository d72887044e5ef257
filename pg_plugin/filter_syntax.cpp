/*
 * filter_syntax.cpp: splitting filter text in one pass (see filter_syntax.h).
 * Plain code only.
 */
#include "filter_syntax.h"

extern "C"
{
PG_FUNCTION_INFO_V1(pg_realtime_split_top_level);
}

/* Adds bytes [start, end) to the array, without leading and trailing blanks. */
static ArrayBuildState *
add_trimmed(ArrayBuildState *parts, const char *start, const char *end)
{
	while (start < end && *start == ' ')
		start++;
	while (end > start && end[-1] == ' ')
		end--;
	return accumArrayResult(parts, PointerGetDatum(cstring_to_text_with_len(start, (int) (end - start))),
							false, TEXTOID, CurrentMemoryContext);
}

/*
 * Splits s at the byte sep, except inside double quotes and (when parens) inside
 * parentheses. The bytes compared are ASCII, which no server encoding uses inside a
 * multibyte character, so a byte scan is a character scan.
 */
Datum
pg_realtime_split_top_level(PG_FUNCTION_ARGS)
{
	text	   *input = PG_GETARG_TEXT_PP(0);
	text	   *separator = PG_GETARG_TEXT_PP(1);
	bool		parens = PG_GETARG_BOOL(2);
	const char *s = VARDATA_ANY(input);
	const char *end = s + VARSIZE_ANY_EXHDR(input);
	const char *segment = s;
	ArrayBuildState *parts = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	bool		quoted = false;
	int			depth = 0;
	char		sep;

	if (VARSIZE_ANY_EXHDR(separator) != 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("the separator must be one byte")));
	sep = *VARDATA_ANY(separator);

	for (const char *p = s; p < end; p++)
	{
		if (*p == '"')
			quoted = !quoted;
		else if (quoted)
			continue;
		else if (parens && *p == '(')
			depth++;
		else if (parens && *p == ')')
			depth = Max(depth - 1, 0);
		else if (depth == 0 && *p == sep)
		{
			parts = add_trimmed(parts, segment, p);
			segment = p + 1;
		}
	}
	if (quoted)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("unterminated double quote in \"%s\"", text_to_cstring(input))));
	parts = add_trimmed(parts, segment, end);
	PG_RETURN_DATUM(makeArrayResult(parts, CurrentMemoryContext));
}
