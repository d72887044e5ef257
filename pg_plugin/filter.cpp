/*
 * filter.cpp: compiled filter conditions (see filter.h), and the check realtime.subscribe
 * makes with them. Plain code only.
 */
#include "filter.h"
#include "tuple_desc.h"

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
	ops->is_row = type_is_rowtype(ops->typid);
	ops->typmod = att->atttypmod;
	ops->collation = att->attcollation;
	ops->typlen = att->attlen;
	ops->typbyval = att->attbyval;

	/* The column's own input function, so domains check their constraints. */
	getTypeInputInfo(ops->typid, &input_fn, &ops->typioparam);
	fmgr_info_cxt(input_fn, &ops->input, CurrentMemoryContext);

	/* Comparison and hashing come from the base type's default opclasses. */
	basetype = getBaseType(ops->typid);
	ops->basetype = basetype;
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

/* True if op can be evaluated for this column's type (not for is and the patterns). */
static bool
column_ops_support(const ColumnOps *ops, FilterOp op)
{
	switch (op)
	{
		case FilterOp::Eq:
		case FilterOp::Neq:
		case FilterOp::In:
		case FilterOp::IsDistinct:
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

/* ---- compiling ---- */

static const char *
compile_values(const FilterSpec *spec, CompiledFilter *out)
{
	out->nvalues = (int) spec->values.size();
	out->values = (Datum *) palloc(sizeof(Datum) * Max(out->nvalues, 1));
	for (int v = 0; v < out->nvalues; v++)
	{
		char	   *error = NULL;

		if (!filter_parse_value(out->column, spec->values[v].c_str(), &out->values[v], &error))
			return psprintf("value \"%s\": %s", spec->values[v].c_str(), error);
	}
	return NULL;
}

const char *
filter_compile(const FilterSpec *spec, const ColumnOps *column, CompiledFilter *out)
{
	out->column = column;
	out->op = spec->op;
	out->negate = spec->negate;
	out->has_null = spec->has_null;

	switch (spec->op)
	{
		case FilterOp::Is:
			if (!parse_is_test(spec->values[0].c_str(), &out->is_test))
				return "an is filter takes null, true, false or unknown";
			if (out->is_test != IsTest::Null && column->basetype != BOOLOID)
				return psprintf("is %s needs a boolean column, not one of type %s",
								spec->values[0].c_str(), format_type_be(column->typid));
			return NULL;
		case FilterOp::Like:
		case FilterOp::ILike:
		case FilterOp::Match:
		case FilterOp::IMatch:
			out->pattern = (PatternOp *) palloc0(sizeof(PatternOp));
			return pattern_op_prepare(spec->op, spec->oper, column->typid, column->collation,
									  spec->values[0].c_str(), out->pattern);
		default:
			if (!column_ops_support(column, spec->op))
				return psprintf("operator %s is not supported for type %s",
								filter_op_name(spec->op), format_type_be(column->typid));
			return compile_values(spec, out);
	}
}

bool
filter_anchors(const CompiledFilter *filter)
{
	return filter->column->has_hash && !filter->negate &&
		(filter->op == FilterOp::Eq || filter->op == FilterOp::In);
}

/* ---- evaluating ---- */

/* True if every live field of a composite value is NULL (want_null) or none is. */
static bool
row_fields_all(Datum value, bool want_null)
{
	HeapTupleHeader header = DatumGetHeapTupleHeader(value);
	TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(header),
											  HeapTupleHeaderGetTypMod(header));
	HeapTupleData tuple;
	bool		all = true;

	tuple.t_len = HeapTupleHeaderGetDatumLength(header);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = header;
	for (int i = 0; i < desc->natts && all; i++)
	{
		if (!TupleDescAttr(desc, i)->attisdropped)
			all = heap_attisnull(&tuple, i + 1, desc) == want_null;
	}
	ReleaseTupleDesc(desc);
	return all;
}

/* col IS [NOT] NULL / TRUE / FALSE / UNKNOWN, never NULL itself. */
static bool
is_holds(const CompiledFilter *filter, bool isnull, Datum value)
{
	const ColumnOps *ops = filter->column;

	switch (filter->is_test)
	{
		case IsTest::Null:
			/* SQL's row rule: IS NULL when all fields are, IS NOT NULL when none is. */
			if (filter->negate)
				return !isnull && (!ops->is_row || row_fields_all(value, false));
			return isnull || (ops->is_row && row_fields_all(value, true));
		case IsTest::True:
			return (!isnull && DatumGetBool(value)) != filter->negate;
		case IsTest::False:
			return (!isnull && !DatumGetBool(value)) != filter->negate;
		case IsTest::Unknown:
			return isnull != filter->negate;
	}
	return false;
}

/* The value of the operator on a non-NULL value: true, false or (in lists) NULL. */
enum class Truth : uint8
{
	False, True, Unknown
};

static Truth
operator_truth(const CompiledFilter *filter, Datum value)
{
	const ColumnOps *ops = filter->column;
	bool		result = false;

	switch (filter->op)
	{
		case FilterOp::Eq:
			result = equal(ops, value, filter->values[0]);
			break;
		case FilterOp::Neq:
			result = !equal(ops, value, filter->values[0]);
			break;
		case FilterOp::In:
			for (int i = 0; i < filter->nvalues; i++)
			{
				if (equal(ops, value, filter->values[i]))
					return Truth::True;
			}
			/* x = ANY('{a,NULL}') is NULL when x is not a. */
			return filter->has_null ? Truth::Unknown : Truth::False;
		case FilterOp::Lt:
			result = compare(ops, value, filter->values[0]) < 0;
			break;
		case FilterOp::Lte:
			result = compare(ops, value, filter->values[0]) <= 0;
			break;
		case FilterOp::Gt:
			result = compare(ops, value, filter->values[0]) > 0;
			break;
		case FilterOp::Gte:
			result = compare(ops, value, filter->values[0]) >= 0;
			break;
		case FilterOp::Like:
		case FilterOp::ILike:
		case FilterOp::Match:
		case FilterOp::IMatch:
			result = pattern_op_matches(filter->pattern, value);
			break;
		case FilterOp::Is:
		case FilterOp::IsDistinct:
			break;				/* never NULL: see filter_holds */
	}
	return result ? Truth::True : Truth::False;
}

bool
filter_holds(const CompiledFilter *filter, bool isnull, Datum value)
{
	Truth		truth;

	if (filter->op == FilterOp::Is)
		return is_holds(filter, isnull, value);
	if (filter->op == FilterOp::IsDistinct)
		return (isnull || !equal(filter->column, value, filter->values[0])) != filter->negate;
	/*
	 * The operators are strict: NULL in, NULL out, and NOT NULL is NULL too. Except
	 * that x = ANY('{}') is false whatever x, the operator being called zero times.
	 */
	if (isnull)
		return filter->op == FilterOp::In && filter->nvalues == 0 && !filter->has_null &&
			filter->negate;
	truth = operator_truth(filter, value);
	return truth != Truth::Unknown && (truth == Truth::True) != filter->negate;
}

/* ---- for realtime.subscribe ---- */

extern "C"
{
PG_FUNCTION_INFO_V1(pg_realtime_filter_op_supported);
}

/*
 * realtime._filter_op_supported(entity, col, op): whether filter_compile will accept the
 * comparison op (eq..gte, in, isdistinct) on that column. A type can have the SQL
 * operator and no default btree or hash operator class (box has `=` and `<`), which is
 * what the plugin compares with; realtime.subscribe refuses such a filter, rather than
 * let the plugin make its subscription match nothing.
 */
Datum
pg_realtime_filter_op_supported(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *column = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *opname = text_to_cstring(PG_GETARG_TEXT_PP(2));
	FilterOp	op;
	Relation	rel;
	AttrNumber	attnum;
	bool		supported;

	if (!parse_filter_op(opname, &op) || op == FilterOp::Is || pattern_op_symbol(op) != NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("\"%s\" is not a comparison operator", opname)));
	rel = table_open(relid, AccessShareLock);
	attnum = attnum_by_name(RelationGetDescr(rel), column);
	if (attnum == 0)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
						errmsg("column \"%s\" does not exist in table %s", column,
							   RelationGetRelationName(rel))));
	supported = column_ops_support(column_ops_create(RelationGetDescr(rel), attnum), op);
	table_close(rel, AccessShareLock);
	PG_RETURN_BOOL(supported);
}
