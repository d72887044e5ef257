/*
 * row_writer.h: the JSON documents the plugin emits.
 *
 * Owns the output format (design 3.3 and docs/architecture.md, "Output"): row change
 * documents (INSERT, UPDATE, DELETE with columns, record, old_record, targets, errors and
 * the 413 rule; views, checks, check_row and failed when row level security or column
 * privileges need them), BROADCAST documents of the broadcast rows of realtime.messages,
 * and SUBSCRIBED documents. Each value is written by its column's ValueFormat, as
 * Supabase sends it (json_value.h). Plain code writing into a StringInfo.
 */
#ifndef PG_REALTIME_ROW_WRITER_H
#define PG_REALTIME_ROW_WRITER_H

#include "pg_headers.h"
#include "json_text.h"
#include "message_catalog.h"
#include "relation_shape.h"
#include "row_view.h"
#include "subscription_index.h"
#include "subscription_set.h"

/* What every document of a transaction shares, rendered once at BEGIN. */
struct TxnText
{
	char		commit_lsn[LSN_TEXT_SIZE];
	char		commit_time[TIMESTAMP_TEXT_SIZE];
};

struct RowChange
{
	uint8		kind;			/* ACTION_INSERT, ACTION_UPDATE or ACTION_DELETE */
	const RelationShape *shape;
	const TxnText *txn;
	XLogRecPtr	lsn;
	int64		change_index;
	const RowView *record;		/* INSERT, UPDATE */
	const RowView *old_record;	/* UPDATE, DELETE */
	const Match *matches;		/* sorted by match_order */
	int			nmatches;
	const NodeNames *nodes;
	/* What the matches' views and checks refer to (NULL if every match is plain). */
	const CompiledSet *compiled;
	const char *check_row;		/* record text of the checked row, if a match is a candidate */
	const FailedSubscription *failed;	/* sorted by node */
	int			nfailed;
};

/*
 * The order of a document's matches: plain targets first (no view, no check), then by
 * check and view, each group by node, then id.
 */
bool		match_order(const Match &a, const Match &b);

void		write_row_change(StringInfo out, const RowChange *change, int64 max_record_bytes);

/*
 * BROADCAST: topic, event, payload (the jsonb as its text) or binary_payload (base64),
 * private and id, then the transaction's fields and change_index.
 */
void		write_broadcast(StringInfo out, const TxnText *txn, int64 change_index,
							const BroadcastRow *row);

/* SUBSCRIBED: the subscriptions a transaction inserted, sorted by node, then id. */
void		write_subscribed(StringInfo out, const TxnText *txn, int64 change_index,
							 const Match *matches, int nmatches, const NodeNames *nodes);

#endif
