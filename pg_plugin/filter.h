/*
 * filter.h: one compiled filter condition and how a column value is tested against it.
 *
 * Owns the typed side of filters: how a filter column's type is resolved (input
 * function, btree comparator, hash function, collation), parsing the stored text values
 * once into Datums, and evaluating eq/neq/lt/lte/gt/gte/in with the type's own
 * comparison. Plain code over plain data (see pg_guard.h); everything is palloc'd in
 * the memory context of the relation index that owns it.
 */
#ifndef PG_REALTIME_FILTER_H
#define PG_REALTIME_FILTER_H

#include "pg_headers.h"
#include "subscription_set.h"

/* How values of one filtered column are parsed, compared and hashed. */
struct ColumnOps
{
	AttrNumber	attnum;
	Oid			typid;
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
	int			nvalues;
	Datum	   *values;
};

/* Resolves the operations of attribute attnum of desc; allocates in CurrentMemoryContext. */
ColumnOps  *column_ops_create(TupleDesc desc, AttrNumber attnum);

/* True if op can be evaluated for this column's type. */
bool		column_ops_support(const ColumnOps *ops, FilterOp op);

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

/* Tests a non-NULL column value against the filter. */
bool		filter_matches(const CompiledFilter *filter, Datum value);

#endif
