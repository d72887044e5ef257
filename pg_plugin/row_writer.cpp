/*
 * row_writer.cpp: renders the emitted JSON documents (see row_writer.h).
 */
#include "row_writer.h"

/* A record keeps only values of at most this many bytes when it is too large. */
static const int small_value_bytes = 64;
static const char *const payload_too_large = "[\"Error 413: Payload Too Large\"]";

static const char *
change_type(uint8 kind)
{
	switch (kind)
	{
		case ACTION_INSERT:
			return "INSERT";
		case ACTION_UPDATE:
			return "UPDATE";
		default:
			return "DELETE";
	}
}

/* The size of a written value as its text: a JSON string's quotes do not count. */
static int
value_bytes(StringInfo out, int start)
{
	int			len = out->len - start;

	if (len >= 2 && out->data[start] == '"')
		len -= 2;
	return len;
}

static void
truncate_to(StringInfo out, int len)
{
	out->len = len;
	out->data[len] = '\0';
}

/* Writes {"col":value,...} over the present columns; limit > 0 drops larger values. */
static void
write_object(StringInfo out, const RowView *row, const RelationShape *shape, int limit)
{
	bool		first = true;

	appendStringInfoChar(out, '{');
	for (int i = 0; i < row->natts; i++)
	{
		const OutputColumn *col = &shape->columns[i];
		int			member_start = out->len;
		int			value_start;

		if (!row->present[i])
			continue;
		if (!first)
			appendStringInfoChar(out, ',');
		appendBinaryStringInfo(out, col->json_name, col->json_name_len);
		appendStringInfoChar(out, ':');
		value_start = out->len;
		if (row->isnull[i])
			appendStringInfoString(out, "null");
		else
			write_json_value(out, col->format, row->values[i]);
		if (limit > 0 && value_bytes(out, value_start) > limit)
		{
			truncate_to(out, member_start);
			continue;
		}
		first = false;
	}
	appendStringInfoChar(out, '}');
}

/*
 * Writes a record object. One larger than max_bytes is rewritten with only its small
 * values (Supabase's 413 rule); returns true then.
 */
static bool
write_record(StringInfo out, const RowView *row, const RelationShape *shape, int64 max_bytes)
{
	int			start = out->len;

	write_object(out, row, shape, 0);
	if (out->len - start <= max_bytes)
		return false;
	truncate_to(out, start);
	write_object(out, row, shape, small_value_bytes);
	return true;
}

bool
match_order(const Match &a, const Match &b)
{
	if (a.check != b.check)
		return a.check < b.check;
	if (a.view != b.view)
		return a.view < b.view;
	return a.node != b.node ? a.node < b.node : a.id < b.id;
}

/*
 * Before item i of an object of per-node lists ({"node":[items],...}, items sorted by
 * node): the node's name when it is new, else a comma.
 */
static void
open_node_item(StringInfo out, const NodeNames *nodes, int i, uint32 node, uint32 previous)
{
	if (i > 0 && node == previous)
	{
		appendStringInfoChar(out, ',');
		return;
	}
	const std::string &name = nodes->name(node);

	if (i > 0)
		appendStringInfoString(out, "],");
	append_json_string(out, name.data(), name.size());
	appendStringInfoString(out, ":[");
}

/* {"node":[ids],...} from matches sorted by node, then id. */
static void
write_target_object(StringInfo out, const Match *matches, int nmatches, const NodeNames *nodes)
{
	appendStringInfoChar(out, '{');
	for (int i = 0; i < nmatches; i++)
	{
		open_node_item(out, nodes, i, matches[i].node, i > 0 ? matches[i - 1].node : 0);
		append_json_int64(out, matches[i].id);
	}
	if (nmatches > 0)
		appendStringInfoChar(out, ']');
	appendStringInfoChar(out, '}');
}

static void
write_targets(StringInfo out, const Match *matches, int nmatches, const NodeNames *nodes)
{
	appendStringInfoString(out, ",\"targets\":");
	write_target_object(out, matches, nmatches, nodes);
}

/* The end of the group of matches starting at from (same view and check). */
static int
group_end(const Match *matches, int nmatches, int from)
{
	int			to = from;

	while (to < nmatches && matches[to].view == matches[from].view &&
		   matches[to].check == matches[from].check)
		to++;
	return to;
}

/*
 * ,"views":[{"check":k,"columns":[...],"targets":{...}},...] for the matches after the
 * plain ones; check k is the position in "checks", which lists the checks used, in
 * order.
 */
static void
write_views(StringInfo out, const RowChange *change, int first)
{
	int			checks_written = 0;
	uint16		last_check = 0;

	appendStringInfoString(out, ",\"views\":[");
	for (int from = first, to; from < change->nmatches; from = to)
	{
		const Match &m = change->matches[from];

		to = group_end(change->matches, change->nmatches, from);
		if (from > first)
			appendStringInfoChar(out, ',');
		appendStringInfoChar(out, '{');
		if (m.check != 0)
		{
			checks_written += m.check != last_check;
			last_check = m.check;
			appendStringInfo(out, "\"check\":%d,", checks_written - 1);
		}
		if (m.view != 0)
		{
			const ColumnView *view = &change->compiled->views[m.view - 1];

			appendBinaryStringInfo(out, view->columns_json, view->columns_json_len);
			appendStringInfoChar(out, ',');
		}
		appendStringInfoString(out, "\"targets\":");
		write_target_object(out, &change->matches[from], to - from, change->nodes);
		appendStringInfoChar(out, '}');
	}
	appendStringInfoChar(out, ']');
}

/* ,"checks":[{"role":...,"per_user":...,"quals":[...]},...],"check_row":"..." */
static void
write_checks(StringInfo out, const RowChange *change, int first)
{
	uint16		last_check = 0;
	bool		any = false;

	for (int i = first; i < change->nmatches; i++)
	{
		uint16		check = change->matches[i].check;
		const PolicyCheck *spec;

		if (check == 0 || check == last_check)
			continue;
		last_check = check;
		spec = change->compiled->checks[check - 1];
		appendStringInfoString(out, any ? ",{\"role\":" : ",\"checks\":[{\"role\":");
		any = true;
		append_json_cstring(out, change->compiled->check_roles[check - 1]);
		appendStringInfoString(out, spec->per_user ? ",\"per_user\":true" : ",\"per_user\":false");
		appendStringInfoString(out, ",\"quals\":[");
		for (int q = 0; q < spec->nquals; q++)
		{
			if (q > 0)
				appendStringInfoChar(out, ',');
			append_json_cstring(out, spec->quals[q]);
		}
		appendStringInfoString(out, "]}");
	}
	if (!any)
		return;
	appendStringInfoString(out, "],\"check_row\":");
	append_json_cstring(out, change->check_row);
}

/* ,"failed":{"node":[{"id":..,"message":".."},...],...} */
static void
write_failed(StringInfo out, const RowChange *change)
{
	appendStringInfoString(out, ",\"failed\":{");
	for (int i = 0; i < change->nfailed; i++)
	{
		const FailedSubscription *f = &change->failed[i];

		open_node_item(out, change->nodes, i, f->node, i > 0 ? change->failed[i - 1].node : 0);
		appendStringInfoString(out, "{\"id\":");
		append_json_int64(out, f->id);
		appendStringInfoString(out, ",\"message\":");
		append_json_cstring(out, f->message);
		appendStringInfoChar(out, '}');
	}
	appendStringInfoString(out, "]}");
}

static void
write_txn_fields(StringInfo out, const TxnText *txn)
{
	appendStringInfoString(out, ",\"commit_timestamp\":\"");
	appendStringInfoString(out, txn->commit_time);
	appendStringInfoString(out, "\",\"commit_lsn\":\"");
	appendStringInfoString(out, txn->commit_lsn);
	appendStringInfoChar(out, '"');
}

void
write_row_change(StringInfo out, const RowChange *change, int64 max_record_bytes)
{
	char		lsn[LSN_TEXT_SIZE];
	bool		too_large = false;
	int			plain;

	format_lsn(lsn, change->lsn);
	appendStringInfoString(out, "{\"type\":\"");
	appendStringInfoString(out, change_type(change->kind));
	appendStringInfoChar(out, '"');
	appendBinaryStringInfo(out, change->shape->names_json, change->shape->names_json_len);
	write_txn_fields(out, change->txn);
	appendStringInfoString(out, ",\"lsn\":\"");
	appendStringInfoString(out, lsn);
	appendStringInfoString(out, "\",\"change_index\":");
	append_json_int64(out, change->change_index);
	appendBinaryStringInfo(out, change->shape->columns_json, change->shape->columns_json_len);

	if (change->kind != ACTION_DELETE)
	{
		appendStringInfoString(out, ",\"record\":");
		too_large |= write_record(out, change->record, change->shape, max_record_bytes);
	}
	if (change->kind != ACTION_INSERT)
	{
		appendStringInfoString(out, ",\"old_record\":");
		too_large |= write_record(out, change->old_record, change->shape, max_record_bytes);
	}
	plain = group_end(change->matches, change->nmatches, 0);
	if (change->nmatches > 0 && (change->matches[0].view != 0 || change->matches[0].check != 0))
		plain = 0;
	write_targets(out, change->matches, plain, change->nodes);
	if (plain < change->nmatches)
	{
		write_views(out, change, plain);
		write_checks(out, change, plain);
	}
	if (change->nfailed > 0)
		write_failed(out, change);
	appendStringInfoString(out, ",\"errors\":");
	appendStringInfoString(out, too_large ? payload_too_large : "null");
	appendStringInfoChar(out, '}');
}

void
write_broadcast(StringInfo out, const TxnText *txn, int64 change_index, const BroadcastRow *row)
{
	appendStringInfoString(out, "{\"type\":\"BROADCAST\",\"topic\":");
	append_json_string(out, row->topic, row->topic_len);
	appendStringInfoString(out, ",\"event\":");
	append_json_string(out, row->event, row->event_len);
	if (row->binary)
	{
		appendStringInfoString(out, ",\"binary_payload\":");
		append_json_base64(out, row->binary, row->binary_len);
	}
	else
	{
		appendStringInfoString(out, ",\"payload\":");
		JsonbToCString(out, &row->payload->root, VARSIZE(row->payload));
	}
	appendStringInfoString(out, row->is_private ? ",\"private\":true" : ",\"private\":false");
	appendStringInfoString(out, ",\"id\":");
	if (row->has_id)
		append_json_cstring(out, DatumGetCString(DirectFunctionCall1(uuid_out, row->id)));
	else
		appendStringInfoString(out, "null");
	write_txn_fields(out, txn);
	appendStringInfoString(out, ",\"change_index\":");
	append_json_int64(out, change_index);
	appendStringInfoChar(out, '}');
}

void
write_subscribed(StringInfo out, const TxnText *txn, int64 change_index, const Match *matches,
				 int nmatches, const NodeNames *nodes)
{
	appendStringInfoString(out, "{\"type\":\"SUBSCRIBED\",\"commit_lsn\":\"");
	appendStringInfoString(out, txn->commit_lsn);
	appendStringInfoString(out, "\",\"change_index\":");
	append_json_int64(out, change_index);
	write_targets(out, matches, nmatches, nodes);
	appendStringInfoChar(out, '}');
}
