/*
 * relation_shape.cpp: builds the per-relation output metadata (see relation_shape.h).
 * Plain code only.
 */
#include "relation_shape.h"
#include "json_text.h"

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

		col->dropped = att->attisdropped;
		if (col->dropped)
			continue;
		col->typlen = att->attlen;
		col->format = value_format_create(att->atttypid, true, arrays_as_json);

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
