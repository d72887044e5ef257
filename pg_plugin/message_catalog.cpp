/*
 * message_catalog.cpp: recognises the partitions of realtime.messages and reads their
 * broadcast rows (see message_catalog.h). Plain code only.
 */
#include "message_catalog.h"
#include "tuple_desc.h"

static const char *const messages_schema = "realtime";
static const char *const messages_table = "messages";
static const char *const broadcast_extension = "broadcast";

static bool
is_messages_table(Oid relid)
{
	char	   *relname = get_rel_name(relid);
	char	   *nspname = relname ? get_namespace_name(get_rel_namespace(relid)) : NULL;
	bool		result = nspname != NULL && strcmp(relname, messages_table) == 0 &&
		strcmp(nspname, messages_schema) == 0;

	if (relname)
		pfree(relname);
	if (nspname)
		pfree(nspname);
	return result;
}

bool
relation_is_message_partition(Relation rel)
{
	List	   *ancestors;
	bool		result;

	/*
	 * Cheap test first: this runs once per relation the session sees. Any partition of
	 * the tree counts, whatever its schema or name: its rows are the table's.
	 */
	if (!rel->rd_rel->relispartition)
		return false;
	ancestors = get_partition_ancestors(RelationGetRelid(rel));
	result = ancestors != NIL && is_messages_table(llast_oid(ancestors));
	list_free(ancestors);
	return result;
}

/* The column called name if it has type typid; 0 otherwise (*ok cleared, with a WARNING). */
static AttrNumber
column_of_type(Relation rel, const char *name, Oid typid, bool optional, bool *ok)
{
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	attnum = attnum_by_name(desc, name);

	if (attnum == 0 && optional)
		return 0;
	if (attnum != 0 && TupleDescAttr(desc, attnum - 1)->atttypid == typid)
		return attnum;
	if (*ok)
		ereport(WARNING,
				(errmsg("pg_realtime: the broadcasts stored in \"%s\" are not delivered: realtime.messages has no column \"%s\" of type %s",
						RelationGetRelationName(rel), name, format_type_be(typid))));
	*ok = false;
	return 0;
}

void
message_layout(Relation rel, MessageLayout *layout)
{
	bool		ok = true;

	layout->topic = column_of_type(rel, "topic", TEXTOID, false, &ok);
	layout->extension = column_of_type(rel, "extension", TEXTOID, false, &ok);
	layout->event = column_of_type(rel, "event", TEXTOID, false, &ok);
	layout->payload = column_of_type(rel, "payload", JSONBOID, false, &ok);
	layout->binary_payload = column_of_type(rel, "binary_payload", BYTEAOID, true, &ok);
	layout->is_private = column_of_type(rel, "private", BOOLOID, false, &ok);
	layout->id = column_of_type(rel, "id", UUIDOID, false, &ok);
	layout->valid = ok;
}

/* A text column's bytes; false if it is NULL. */
static bool
read_text(HeapTuple tuple, TupleDesc desc, AttrNumber attnum, const char **text_out, int *len)
{
	bool		isnull;
	Datum		value = heap_getattr(tuple, attnum, desc, &isnull);
	text	   *t;

	if (isnull)
		return false;
	t = DatumGetTextPP(value);
	*text_out = VARDATA_ANY(t);
	*len = (int) VARSIZE_ANY_EXHDR(t);
	return true;
}

/* Reads the payload, binary first; false if the row has neither. */
static bool
read_payload(HeapTuple tuple, TupleDesc desc, const MessageLayout *layout, BroadcastRow *row)
{
	bool		isnull = true;
	Datum		value;

	row->payload = NULL;
	row->binary = NULL;
	row->binary_len = 0;
	if (layout->binary_payload)
		value = heap_getattr(tuple, layout->binary_payload, desc, &isnull);
	if (!isnull)
	{
		bytea	   *bytes = DatumGetByteaPP(value);

		row->binary = VARDATA_ANY(bytes);
		row->binary_len = (int) VARSIZE_ANY_EXHDR(bytes);
		return true;
	}
	value = heap_getattr(tuple, layout->payload, desc, &isnull);
	if (isnull)
		return false;
	row->payload = DatumGetJsonbP(value);
	return true;
}

bool
read_broadcast_row(HeapTuple tuple, TupleDesc desc, const MessageLayout *layout,
				   BroadcastRow *row)
{
	const char *extension;
	int			extension_len;
	bool		isnull;
	Datum		value;

	if (!layout->valid)
		return false;
	if (!read_text(tuple, desc, layout->extension, &extension, &extension_len) ||
		extension_len != (int) strlen(broadcast_extension) ||
		memcmp(extension, broadcast_extension, extension_len) != 0)
		return false;
	if (!read_text(tuple, desc, layout->event, &row->event, &row->event_len) ||
		!read_text(tuple, desc, layout->topic, &row->topic, &row->topic_len))
		return false;
	value = heap_getattr(tuple, layout->is_private, desc, &isnull);
	if (isnull)
		return false;
	row->is_private = DatumGetBool(value);
	if (!read_payload(tuple, desc, layout, row))
		return false;
	row->id = heap_getattr(tuple, layout->id, desc, &isnull);
	row->has_id = !isnull;
	return true;
}
