/*
 * pattern_op.h: the pattern filters like, ilike, match and imatch.
 *
 * Owns how a pattern filter is evaluated with Postgres' own semantics: the operator is
 * the one Postgres itself chooses for `column ~~ 'pattern'` (~~, ~~*, ~ or ~*, resolved
 * like a WHERE clause, so varchar, domains, name, bpchar, bytea and citext each get
 * their type's operator), called with the column's collation; the pattern is parsed
 * with the operator's right-hand type. realtime.subscribe resolves the operator once
 * (realtime._pattern_operator, SQL-callable) and stores its OID in the filter; the
 * plugin compiles from that OID. Both check the pattern the same way before any row
 * is tested: the operator must apply to the column's values as they are (binary
 * coercible), a LIKE pattern must not end with its escape character (Postgres only
 * notices that while matching some rows), and one call on an empty value catches what
 * the operator rejects whatever the row (an invalid regular expression, a
 * nondeterministic collation). Plain code (see pg_guard.h).
 *
 * The built-in regular expression operators (textregexeq, texticregexeq, their name
 * and bpchar twins) are run as those functions run them, Postgres' own pg_regexec with
 * the same flags and collation, on a regex compiled once per filter: through the
 * operator, every call goes through Postgres' cache of 32 compiled expressions, and a
 * table with more distinct patterns than that recompiled on every row (14 times
 * slower at 100). The compiled regex is freed with the memory context that holds it.
 */
#ifndef PG_REALTIME_PATTERN_OP_H
#define PG_REALTIME_PATTERN_OP_H

#include "pg_headers.h"
#include "subscription_set.h"

/* What a compiled regex is run on: a varlena's bytes (text, bpchar) or a name. */
enum class RegexSubject : uint8
{
	None, Varlena, Name
};

struct PatternOp
{
	Oid			oprid;
	FmgrInfo	fn;				/* the operator's function */
	Oid			collation;		/* the column's, as a WHERE clause would use */
	Datum		pattern;		/* parsed with the right-hand type's input function */
	RegexSubject subject;		/* None: call fn */
	regex_t    *regex;
};

/* "~~", "~~*", "~" or "~*"; NULL if op is not a pattern operator. */
const char *pattern_op_symbol(FilterOp op);

/*
 * Prepares a stored pattern filter for a column of type coltype with collation colcoll,
 * allocating in CurrentMemoryContext. Returns NULL, or why it cannot be evaluated (the
 * operator is gone or does not fit, the pattern does not parse or is rejected): the
 * plugin then matches nothing for it rather than raise an error while decoding.
 */
const char *pattern_op_prepare(FilterOp op, Oid oprid, Oid coltype, Oid colcoll,
							   const char *pattern, PatternOp *out);

bool		pattern_op_regex_matches(const PatternOp *op, Datum value);

/* The pattern filter on a non-NULL value. */
static inline bool
pattern_op_matches(const PatternOp *op, Datum value)
{
	if (op->subject != RegexSubject::None)
		return pattern_op_regex_matches(op, value);
	return DatumGetBool(FunctionCall2Coll(const_cast<FmgrInfo *>(&op->fn), op->collation,
										  value, op->pattern));
}

extern "C"
{
/*
 * realtime._pattern_operator(entity regclass, col text, op text, pattern text)
 * RETURNS oid: the operator for `col op pattern` on entity, after the checks above;
 * raises a clear ERROR where a filter must be refused.
 */
PGDLLEXPORT Datum pg_realtime_pattern_operator(PG_FUNCTION_ARGS);
}

#endif
