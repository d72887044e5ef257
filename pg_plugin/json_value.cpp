/*
 * json_value.cpp: typed values as Supabase's JSON (see json_value.h). Plain code only.
 */
#include "json_value.h"
#include "json_text.h"

#include <cmath>

/* Deeper nesting (which Postgres' types never reach) is written as text. */
static const int max_depth = 32;

static ValueFormat *format_create(Oid typid, bool top_level, bool arrays_as_json, int depth);

/* ---- formats: every catalog lookup happens here ---- */

static void
set_output_function(ValueFormat *format, Oid typid)
{
	Oid			function;
	bool		varlena;

	getTypeOutputInfo(typid, &function, &varlena);
	fmgr_info_cxt(function, &format->function, CurrentMemoryContext);
}

/* The to_jsonb categories with a fixed writer, by the type under its domains. */
static bool
scalar_kind(Oid base, JsonKind *kind)
{
	switch (base)
	{
		case INT2OID:
			*kind = JsonKind::Int2;
			return true;
		case INT4OID:
			*kind = JsonKind::Int4;
			return true;
		case INT8OID:
			*kind = JsonKind::Int8;
			return true;
		case FLOAT4OID:
			*kind = JsonKind::Float4;
			return true;
		case FLOAT8OID:
			*kind = JsonKind::Float8;
			return true;
		case NUMERICOID:
			*kind = JsonKind::Numeric;
			return true;
		case BOOLOID:
			*kind = JsonKind::Bool;
			return true;
		case JSONOID:
			*kind = JsonKind::Json;
			return true;
		case JSONBOID:
			*kind = JsonKind::Jsonb;
			return true;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			*kind = JsonKind::Text;
			return true;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			*kind = JsonKind::DateTime;
			return true;
		case INTERVALOID:
			*kind = JsonKind::Interval;
			return true;
		case BYTEAOID:
			*kind = JsonKind::Bytea;
			return true;
		default:
			return false;
	}
}

/* to_jsonb's rule: a type that is not built in and has a cast to json goes through it. */
static Oid
json_cast_function(Oid base)
{
	Oid			function = InvalidOid;

	if (base < FirstNormalObjectId)
		return InvalidOid;
	if (find_coercion_pathway(JSONOID, base, COERCION_EXPLICIT, &function) != COERCION_PATH_FUNC)
		return InvalidOid;
	return function;
}

/* The attributes of row type rowtype, with the typcache identity of its descriptor. */
static void
describe_composite(ValueFormat *format, Oid rowtype, int depth)
{
	uint64		identity = lookup_type_cache(rowtype, TYPECACHE_TUPDESC)->tupDesc_identifier;
	TupleDesc	desc = lookup_rowtype_tupdesc(rowtype, -1);	/* pinned while we look */
	int			natts = desc->natts;
	const ValueFormat **fields = (const ValueFormat **) palloc0(sizeof(ValueFormat *) * Max(natts, 1));
	char	  **names = (char **) palloc0(sizeof(char *) * Max(natts, 1));

	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		StringInfoData name;

		if (att->attisdropped)
			continue;
		initStringInfo(&name);
		append_json_cstring(&name, NameStr(att->attname));
		appendStringInfoChar(&name, ':');
		names[i] = name.data;
		fields[i] = format_create(att->atttypid, false, true, depth + 1);
	}
	ReleaseTupleDesc(desc);
	/* Published together, so a failure above leaves the previous description whole. */
	format->fields = fields;
	format->field_names = names;
	format->nfields = natts;
	format->tupdesc_id = identity;
}

static ValueFormat *
format_create(Oid typid, bool top_level, bool arrays_as_json, int depth)
{
	ValueFormat *format = (ValueFormat *) palloc0(sizeof(ValueFormat));
	Oid			base = getBaseType(typid);
	Oid			element = get_element_type(base);
	Oid			cast;

	format->typid = base;
	format->memory = CurrentMemoryContext;
	if (depth > max_depth)
		format->kind = JsonKind::Other;
	else if (top_level && typid == BYTEAOID)
		format->kind = JsonKind::HexDigits;		/* wal2json's bytea text */
	else if (scalar_kind(base, &format->kind))
	{
		/* wal2json writes null for the NaN and infinities of exactly these types. */
		format->special_as_null = top_level &&
			(typid == FLOAT4OID || typid == FLOAT8OID || typid == NUMERICOID);
		if (format->kind == JsonKind::Numeric || format->kind == JsonKind::Jsonb)
			set_output_function(format, base);
		return format;
	}
	else if (OidIsValid(element) && (!top_level || arrays_as_json))
	{
		format->kind = JsonKind::Array;
		format->elmtype = element;
		get_typlenbyvalalign(element, &format->elmlen, &format->elmbyval, &format->elmalign);
		format->element = format_create(element, false, true, depth + 1);
		return format;
	}
	else if (!OidIsValid(element) && type_is_rowtype(base))
	{
		format->kind = JsonKind::Composite;
		describe_composite(format, base, depth);
		return format;
	}
	else if (!OidIsValid(element) && OidIsValid(cast = json_cast_function(base)))
	{
		format->kind = JsonKind::JsonCast;
		fmgr_info_cxt(cast, &format->function, CurrentMemoryContext);
		return format;
	}
	else
		format->kind = JsonKind::Other;
	if (format->kind == JsonKind::Other)
		set_output_function(format, typid);
	return format;
}

const ValueFormat *
value_format_create(Oid typid, bool top_level, bool arrays_as_json)
{
	return format_create(typid, top_level, arrays_as_json, 0);
}

/* ---- writing: no catalog lookup ---- */

static void
write_special_number(StringInfo out, const ValueFormat *format, const char *text)
{
	if (format->special_as_null)
		appendStringInfoString(out, "null");
	else
		append_json_cstring(out, text);
}

/*
 * Shortest exact digits, as float8out and float4out write them (extra_float_digits 1);
 * -0 as 0, which to_jsonb makes of it (its numbers are numerics, which have no -0).
 */
static void
write_float(StringInfo out, const ValueFormat *format, Datum value)
{
	char		digits[32];
	double		number = format->kind == JsonKind::Float4 ? DatumGetFloat4(value)
		: DatumGetFloat8(value);
	int			len;

	if (std::isnan(number))
		return write_special_number(out, format, "NaN");
	if (std::isinf(number))
		return write_special_number(out, format, number > 0 ? "Infinity" : "-Infinity");
	if (number == 0)
	{
		appendStringInfoChar(out, '0');
		return;
	}
	if (format->kind == JsonKind::Float4)
		len = float_to_shortest_decimal_buf(DatumGetFloat4(value), digits);
	else
		len = double_to_shortest_decimal_buf(number, digits);
	appendBinaryStringInfo(out, digits, len);
}

static void
write_numeric(StringInfo out, const ValueFormat *format, Datum value)
{
	char	   *text = OutputFunctionCall(const_cast<FmgrInfo *>(&format->function), value);
	const char *digits = text[0] == '-' ? text + 1 : text;

	if (digits[0] >= '0' && digits[0] <= '9')
		appendStringInfoString(out, text);
	else
		write_special_number(out, format, text);	/* NaN, Infinity, -Infinity */
}

/* ISO 8601 as to_jsonb writes it (JsonEncodeDateTime); timestamptz in UTC. */
static void
write_datetime(StringInfo out, const ValueFormat *format, Datum value)
{
	char		text[MAXDATELEN + 1];
	const int	utc = 0;

	JsonEncodeDateTime(text, value, format->typid,
					   format->typid == TIMESTAMPTZOID ? &utc : NULL);
	append_json_cstring(out, text);
}

/* interval_out with IntervalStyle postgres, the default Supabase runs with. */
static void
write_interval(StringInfo out, Datum value)
{
	char		text[MAXDATELEN + 1];
	struct pg_itm itm;

	interval2itm(*DatumGetIntervalP(value), &itm);
	EncodeInterval(&itm, INTSTYLE_POSTGRES, text);
	append_json_cstring(out, text);
}

/* byteaout's hex format, "\x0102" (prefixed), or its digits alone. */
static void
write_hex(StringInfo out, Datum value, bool prefixed)
{
	bytea	   *bytes = DatumGetByteaPP(value);
	size_t		len = VARSIZE_ANY_EXHDR(bytes);

	enlargeStringInfo(out, (int) (2 * len + 5));
	appendStringInfoCharMacro(out, '"');
	if (prefixed)
		appendBinaryStringInfo(out, "\\\\x", 3);	/* a backslash, escaped, then x */
	out->len += (int) hex_encode(VARDATA_ANY(bytes), len, out->data + out->len);
	appendStringInfoCharMacro(out, '"');
}

static void
write_embedded_json(StringInfo out, Datum json_text)
{
	text	   *json = DatumGetTextPP(json_text);

	appendBinaryStringInfo(out, VARDATA_ANY(json), (int) VARSIZE_ANY_EXHDR(json));
}

/* One dimension of an array, as nested JSON arrays (to_jsonb ignores lower bounds). */
static void
write_array_dim(StringInfo out, const ValueFormat *element, int dim, int ndims,
				const int *dims, const Datum *values, const bool *nulls, int *pos)
{
	appendStringInfoChar(out, '[');
	for (int i = 0; i < dims[dim]; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		if (dim + 1 < ndims)
			write_array_dim(out, element, dim + 1, ndims, dims, values, nulls, pos);
		else
		{
			if (nulls[*pos])
				appendStringInfoString(out, "null");
			else
				write_json_value(out, element, values[*pos]);
			(*pos)++;
		}
	}
	appendStringInfoChar(out, ']');
}

static void
write_array(StringInfo out, const ValueFormat *format, Datum value)
{
	ArrayType  *array = DatumGetArrayTypeP(value);
	int			ndims = ARR_NDIM(array);
	Datum	   *values;
	bool	   *nulls;
	int			count;
	int			pos = 0;

	if (ndims == 0 || ArrayGetNItems(ndims, ARR_DIMS(array)) == 0)
	{
		appendStringInfoString(out, "[]");
		return;
	}
	deconstruct_array(array, format->elmtype, format->elmlen, format->elmbyval,
					  format->elmalign, &values, &nulls, &count);
	write_array_dim(out, format->element, 0, ndims, ARR_DIMS(array), values, nulls, &pos);
}

/*
 * The row type changed since the format was made (ALTER TYPE, which invalidates no
 * table): describe it again, in the memory the format lives in.
 */
static void
refresh_composite(ValueFormat *format)
{
	MemoryContext old = MemoryContextSwitchTo(format->memory);

	describe_composite(format, format->typid, 0);
	MemoryContextSwitchTo(old);
}

static void
write_composite(StringInfo out, const ValueFormat *format, Datum value)
{
	HeapTupleHeader header = DatumGetHeapTupleHeader(value);
	HeapTupleData tuple;
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;
	bool		first = true;

	if (lookup_type_cache(format->typid, TYPECACHE_TUPDESC)->tupDesc_identifier !=
		format->tupdesc_id)
		refresh_composite(const_cast<ValueFormat *>(format));
	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(header),
								  HeapTupleHeaderGetTypMod(header));
	tuple.t_len = HeapTupleHeaderGetDatumLength(header);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = header;
	values = (Datum *) palloc(sizeof(Datum) * Max(desc->natts, 1));
	nulls = (bool *) palloc(sizeof(bool) * Max(desc->natts, 1));
	heap_deform_tuple(&tuple, desc, values, nulls);

	appendStringInfoChar(out, '{');
	for (int i = 0; i < desc->natts && i < format->nfields; i++)
	{
		if (format->fields[i] == NULL || TupleDescAttr(desc, i)->attisdropped)
			continue;
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		appendStringInfoString(out, format->field_names[i]);
		if (nulls[i])
			appendStringInfoString(out, "null");
		else
			write_json_value(out, format->fields[i], values[i]);
	}
	appendStringInfoChar(out, '}');
	ReleaseTupleDesc(desc);
}

void
write_json_value(StringInfo out, const ValueFormat *format, Datum value)
{
	FmgrInfo   *function = const_cast<FmgrInfo *>(&format->function);

	switch (format->kind)
	{
		case JsonKind::Int2:
			append_json_int64(out, DatumGetInt16(value));
			break;
		case JsonKind::Int4:
			append_json_int64(out, DatumGetInt32(value));
			break;
		case JsonKind::Int8:
			append_json_int64(out, DatumGetInt64(value));
			break;
		case JsonKind::Float4:
		case JsonKind::Float8:
			write_float(out, format, value);
			break;
		case JsonKind::Numeric:
			write_numeric(out, format, value);
			break;
		case JsonKind::Bool:
			appendStringInfoString(out, DatumGetBool(value) ? "true" : "false");
			break;
		case JsonKind::Json:
			write_embedded_json(out, value);	/* stored as validated text */
			break;
		case JsonKind::Jsonb:
			appendStringInfoString(out, OutputFunctionCall(function, value));
			break;
		case JsonKind::Text:
			{
				/* The stored bytes are the text output of text, varchar and bpchar. */
				text	   *str = DatumGetTextPP(value);

				append_json_string(out, VARDATA_ANY(str), VARSIZE_ANY_EXHDR(str));
				break;
			}
		case JsonKind::DateTime:
			write_datetime(out, format, value);
			break;
		case JsonKind::Interval:
			write_interval(out, value);
			break;
		case JsonKind::Bytea:
			write_hex(out, value, true);
			break;
		case JsonKind::HexDigits:
			write_hex(out, value, false);
			break;
		case JsonKind::Array:
			write_array(out, format, value);
			break;
		case JsonKind::Composite:
			write_composite(out, format, value);
			break;
		case JsonKind::JsonCast:
			write_embedded_json(out, FunctionCall1(function, value));
			break;
		case JsonKind::Other:
			append_json_cstring(out, OutputFunctionCall(function, value));
			break;
	}
}
