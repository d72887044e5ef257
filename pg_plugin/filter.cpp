/*
 * filter.cpp: compiled filter conditions (see filter.h). Plain code only.
 */
#include "filter.h"

/*
 * Types whose equal values are always the same by-value Datum. (Not floats: -0 = 0 and
 * every NaN is equal. Not numeric or text: varlena.)
 */
static bool
equal_means_same_datum(Oid basetype)
{
	switch (basetype)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case BOOLOID:
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		default:
			return false;
	}
}

ColumnOps *
column_ops_create(TupleDesc desc, AttrNumber attnum)
{
	Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
	ColumnOps  *ops = (ColumnOps *) palloc0(sizeof(ColumnOps));
	Oid			input_fn;
	Oid			basetype;
	TypeCacheEntry *typentry;

	ops->attnum = attnum;
	ops->typid = att->atttypid;
	ops->typmod = att->atttypmod;
	ops->collation = att->attcollation;
	ops->typlen = att->attlen;
	ops->typbyval = att->attbyval;

	/* The column's own input function, so domains check their constraints. */
	getTypeInputInfo(ops->typid, &input_fn, &ops->typioparam);
	fmgr_info_cxt(input_fn, &ops->input, CurrentMemoryContext);

	/* Comparison and hashing come from the base type's default opclasses. */
	basetype = getBaseType(ops->typid);
	typentry = lookup_type_cache(basetype, TYPECACHE_CMP_PROC_FINFO |
								 TYPECACHE_EQ_OPR_FINFO | TYPECACHE_HASH_PROC_FINFO);
	if (OidIsValid(typentry->cmp_proc_finfo.fn_oid))
	{
		fmgr_info_copy(&ops->cmp, &typentry->cmp_proc_finfo, CurrentMemoryContext);
		ops->has_cmp = true;
	}
	if (OidIsValid(typentry->eq_opr_finfo.fn_oid))
	{
		fmgr_info_copy(&ops->eq, &typentry->eq_opr_finfo, CurrentMemoryContext);
		ops->has_eq = true;
	}
	if (OidIsValid(typentry->hash_proc_finfo.fn_oid))
	{
		fmgr_info_copy(&ops->hash, &typentry->hash_proc_finfo, CurrentMemoryContext);
		ops->has_hash = true;
		ops->hash_datum_bits = equal_means_same_datum(basetype);
	}
	return ops;
}

bool
column_ops_support(const ColumnOps *ops, FilterOp op)
{
	switch (op)
	{
		case FilterOp::Eq:
		case FilterOp::Neq:
		case FilterOp::In:
			return ops->has_cmp || ops->has_eq;
		default:
			return ops->has_cmp;
	}
}

bool
filter_parse_value(const ColumnOps *ops, const char *text, Datum *value, char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	/*
	 * Catching an ERROR without a subtransaction is only sound when the failing code
	 * holds no resources; type input functions report bad input with a plain ereport
	 * before acquiring any. The alternative, letting the ERROR escape, would make every
	 * later decoding session of the slot fail on the same subscription.
	 */
	PG_TRY();
	{
		*value = InputFunctionCall(const_cast<FmgrInfo *>(&ops->input),
								   const_cast<char *>(text), ops->typioparam, ops->typmod);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		*error = edata->message;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

uint32
column_hash_by_function(const ColumnOps *ops, Datum value)
{
	return DatumGetUInt32(FunctionCall1Coll(const_cast<FmgrInfo *>(&ops->hash),
											ops->collation, value));
}

/* <0, 0, >0 as value is below, equal to or above constant. */
static int32
compare(const ColumnOps *ops, Datum value, Datum constant)
{
	return DatumGetInt32(FunctionCall2Coll(const_cast<FmgrInfo *>(&ops->cmp),
										   ops->collation, value, constant));
}

static bool
equal(const ColumnOps *ops, Datum value, Datum constant)
{
	if (ops->has_cmp)
		return compare(ops, value, constant) == 0;
	return DatumGetBool(FunctionCall2Coll(const_cast<FmgrInfo *>(&ops->eq),
										  ops->collation, value, constant));
}

bool
filter_matches(const CompiledFilter *filter, Datum value)
{
	const ColumnOps *ops = filter->column;

	switch (filter->op)
	{
		case FilterOp::Eq:
			return equal(ops, value, filter->values[0]);
		case FilterOp::Neq:
			return !equal(ops, value, filter->values[0]);
		case FilterOp::In:
			for (int i = 0; i < filter->nvalues; i++)
			{
				if (equal(ops, value, filter->values[i]))
					return true;
			}
			return false;
		case FilterOp::Lt:
			return compare(ops, value, filter->values[0]) < 0;
		case FilterOp::Lte:
			return compare(ops, value, filter->values[0]) <= 0;
		case FilterOp::Gt:
			return compare(ops, value, filter->values[0]) > 0;
		case FilterOp::Gte:
			return compare(ops, value, filter->values[0]) >= 0;
	}
	return false;
}
