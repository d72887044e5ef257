/*
 * filter.h: one compiled filter condition and how a column value is tested against it.
 *
 * Owns the typed side of filters: how a filter column's type is resolved (input
 * function, btree comparator, hash function, collation), compiling a stored filter
 * (parsing its text values once into Datums), and evaluating it on a column value with
 * Postgres' semantics: a filter holds when the WHERE clause Supabase runs for it,
 * `col = v`, `NOT (col = ANY('{...}'))`, `col IS NOT NULL`, `col IS DISTINCT FROM v`,
 * would be true. So NULL columns and NULLs in an in list follow three-valued logic, the
 * not. prefix is NOT (IS NOT for is), and composite values are NULL for is when all
 * their fields are. eq..gte and in use the type's btree comparison, like..imatch the
 * operator the subscription resolved (pattern_op.h). Plain code over plain data (see
 * pg_guard.h); everything is palloc'd in the memory context of the relation index that
 * owns it.
 */
#ifndef PG_REALTIME_FILTER_H
#define PG_REALTIME_FILTER_H

#include "pg_headers.h"
#include "pattern_op.h"
#include "subscription_set.h"

/* How values of one filtered column are parsed, compared and hashed. */
struct ColumnOps
{
	AttrNumber	attnum;
	Oid			typid;
	Oid			basetype;		/* under any domains */
	bool		is_row;			/* composite (or a domain over one): see is null */
	int32		typmod;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
	FmgrInfo	input;
	Oid			typioparam;
	bool		has_cmp;		/* btree comparator: every operator */
	FmgrInfo	cmp;
	bool		has_eq;			/* equality only, for types without a btree opclass */
	FmgrInfo	eq;
	bool		has_hash;		/* hash support consistent with equality */
	FmgrInfo	hash;
	/* Equal values are identical Datums (integers, dates, timestamps): hash the bits. */
	bool		hash_datum_bits;
};

struct CompiledFilter
{
	const ColumnOps *column;
	FilterOp	op;
	bool		negate;			/* the not. prefix */
	bool		has_null;		/* in: the list holds a NULL */
	IsTest		is_test;		/* is */
	int			nvalues;		/* eq..gte, in, isdistinct: the non-NULL constants */
	Datum	   *values;
	PatternOp  *pattern;		/* like, ilike, match, imatch */
};

/* Resolves the operations of attribute attnum of desc; allocates in CurrentMemoryContext. */
ColumnOps  *column_ops_create(TupleDesc desc, AttrNumber attnum);

/*
 * Compiles spec on column into *out (allocating in CurrentMemoryContext). Returns NULL,
 * or why the filter cannot be evaluated: the subscription then matches nothing.
 */
const char *filter_compile(const FilterSpec *spec, const ColumnOps *column,
						   CompiledFilter *out);

/* True if the filter can anchor its subscription: an equality on hashable values. */
bool		filter_anchors(const CompiledFilter *filter);

/*
 * Parses text with the column type's input function (typmod respected). A value that
 * no longer parses (the column's type changed since the subscription was made) gives
 * false and *error, instead of an ERROR that would stop decoding for good.
 */
bool		filter_parse_value(const ColumnOps *ops, const char *text, Datum *value,
							   char **error);

uint32		column_hash_by_function(const ColumnOps *ops, Datum value);

/*
 * Hash of a value: equal values (by the type's equality) hash alike. Anchors only need
 * that, and constants and row values go through the same function; so identical-Datum
 * types get a bit mix (the murmur3 finalizer) instead of a function call per row.
 */
static inline uint32
column_hash(const ColumnOps *ops, Datum value)
{
	if (ops->hash_datum_bits)
	{
		uint64		h = (uint64) value;

		h ^= h >> 33;
		h *= UINT64CONST(0xff51afd7ed558ccd);
		h ^= h >> 33;
		h *= UINT64CONST(0xc4ceb9fe1a85ec53);
		h ^= h >> 33;
		return (uint32) h;
	}
	return column_hash_by_function(ops, value);
}

/* True if the filter holds for a column value (isnull: it is NULL). */
bool		filter_holds(const CompiledFilter *filter, bool isnull, Datum value);

#endif
