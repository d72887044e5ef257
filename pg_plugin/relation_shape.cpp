/*
 * relation_shape.cpp: builds the per-relation output metadata (see relation_shape.h).
 * Plain code only.
 */
#include "relation_shape.h"
#include "json_text.h"

static ValueKind
value_kind(Oid typid, bool arrays_as_json)
{
	/* A domain is written like its base type: a domain over int8 is still a number. */
	Oid			base = getBaseType(typid);

	if (arrays_as_json && get_element_type(base) != InvalidOid)
		return ValueKind::Array;
	switch (base)
	{
		case INT2OID:
			return ValueKind::Int2;
		case INT4OID:
			return ValueKind::Int4;
		case INT8OID:
			return ValueKind::Int8;
		case OIDOID:
			return ValueKind::Oid;
		case BOOLOID:
			return ValueKind::Bool;
		case FLOAT4OID:
		case FLOAT8OID:
			return ValueKind::Float;
		case NUMERICOID:
			return ValueKind::Numeric;
		case JSONOID:
			return ValueKind::Json;
		case JSONBOID:
			return ValueKind::Jsonb;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return ValueKind::Text;
		default:
			return ValueKind::Other;
	}
}

static void
append_type_name(StringInfo out, Oid typid)
{
	HeapTuple	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));

	if (!HeapTupleIsValid(tuple))
	{
		append_json_cstring(out, "unknown");
		return;
	}
	append_json_cstring(out, NameStr(((Form_pg_type) GETSTRUCT(tuple))->typname));
	ReleaseSysCache(tuple);
}

/* Which attributes an old tuple carries: all under FULL, the key columns otherwise. */
static void
mark_identity(Relation rel, RelationShape *shape)
{
	Bitmapset  *key;

	if (shape->replident == REPLICA_IDENTITY_FULL)
	{
		for (int i = 0; i < shape->natts; i++)
			shape->columns[i].in_identity = !shape->columns[i].dropped;
		return;
	}
	if (shape->replident == REPLICA_IDENTITY_NOTHING)
		return;
	key = RelationGetIdentityKeyBitmap(rel);
	for (int i = 0; i < shape->natts; i++)
		shape->columns[i].in_identity =
			bms_is_member(i + 1 - FirstLowInvalidHeapAttributeNumber, key);
	bms_free(key);
}

static void
render_names(Relation rel, RelationShape *shape)
{
	StringInfoData buf;
	char	   *nspname = get_namespace_name(RelationGetNamespace(rel));

	initStringInfo(&buf);
	appendStringInfoString(&buf, ",\"schema\":");
	append_json_cstring(&buf, nspname ? nspname : "");
	appendStringInfoString(&buf, ",\"table\":");
	append_json_cstring(&buf, RelationGetRelationName(rel));
	shape->names_json = buf.data;
	shape->names_json_len = buf.len;
}

static void
describe_columns(Relation rel, RelationShape *shape, bool arrays_as_json)
{
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData columns;
	StringInfoData name;
	bool		first = true;

	initStringInfo(&columns);
	appendStringInfoString(&columns, ",\"columns\":[");
	for (int i = 0; i < shape->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		OutputColumn *col = &shape->columns[i];
		Oid			output_fn;
		bool		is_varlena;

		col->dropped = att->attisdropped;
		if (col->dropped)
			continue;
		col->kind = value_kind(att->atttypid, arrays_as_json);
		col->typlen = att->attlen;
		getTypeOutputInfo(att->atttypid, &output_fn, &is_varlena);
		fmgr_info_cxt(output_fn, &col->output, CurrentMemoryContext);

		initStringInfo(&name);
		append_json_cstring(&name, NameStr(att->attname));
		col->json_name = name.data;
		col->json_name_len = name.len;

		if (!first)
			appendStringInfoChar(&columns, ',');
		first = false;
		appendStringInfoString(&columns, "{\"name\":");
		appendBinaryStringInfo(&columns, col->json_name, col->json_name_len);
		appendStringInfoString(&columns, ",\"type\":");
		append_type_name(&columns, att->atttypid);
		appendStringInfoChar(&columns, '}');
	}
	appendStringInfoChar(&columns, ']');
	shape->columns_json = columns.data;
	shape->columns_json_len = columns.len;
}

RelationShape *
relation_shape_create(Relation rel, bool arrays_as_json)
{
	RelationShape *shape = (RelationShape *) palloc0(sizeof(RelationShape));

	shape->natts = RelationGetDescr(rel)->natts;
	shape->columns = (OutputColumn *) palloc0(sizeof(OutputColumn) * Max(shape->natts, 1));
	shape->replident = rel->rd_rel->relreplident;
	render_names(rel, shape);
	describe_columns(rel, shape, arrays_as_json);
	mark_identity(rel, shape);
	return shape;
}
