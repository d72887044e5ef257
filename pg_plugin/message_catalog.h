/*
 * message_catalog.h: reading realtime.messages from Postgres.
 *
 * Owns the knowledge of the table behind broadcasts from the database as the decoder
 * sees it: recognising its partitions (the table is partitioned by day, so its changes
 * arrive on partitions, made at any time by realtime.maintain_messages), where its
 * columns are, and which inserted rows are broadcasts: those Supabase delivers, with
 * extension 'broadcast', an event, a payload or a binary payload, and `private` set.
 * Authorization probes (no event, no payload) and presence rows are not. A broadcast is
 * read into plain BroadcastRow data, which row_writer.h writes as a BROADCAST document.
 * Plain code over plain data (see pg_guard.h).
 */
#ifndef PG_REALTIME_MESSAGE_CATALOG_H
#define PG_REALTIME_MESSAGE_CATALOG_H

#include "pg_headers.h"

/* Attribute numbers of the columns a broadcast is read from. */
struct MessageLayout
{
	bool		valid;			/* every column below found, of its type */
	AttrNumber	topic;
	AttrNumber	extension;
	AttrNumber	event;
	AttrNumber	payload;
	AttrNumber	binary_payload; /* 0 if the table has none (older Supabase schemas) */
	AttrNumber	is_private;
	AttrNumber	id;
};

/* True if rel is a partition, at any depth, of realtime.messages. */
bool		relation_is_message_partition(Relation rel);

/*
 * Finds the columns by name and checks their types. A table altered so that they no
 * longer fit gets a WARNING and an invalid layout: its rows are then never delivered.
 */
void		message_layout(Relation rel, MessageLayout *layout);

/* One broadcast, pointing into the decoded tuple's (detoasted) values. */
struct BroadcastRow
{
	const char *topic;
	int			topic_len;
	const char *event;
	int			event_len;
	Jsonb	   *payload;		/* NULL when the message is binary */
	const char *binary;			/* the bytes of binary_payload, or NULL */
	int			binary_len;
	bool		is_private;
	bool		has_id;
	Datum		id;				/* uuid */
};

/*
 * Reads an inserted row of a partition with that layout; false if the row is not a
 * broadcast (or the layout is invalid). A row with both payloads (only possible once
 * the table's check is dropped) is binary. Values are detoasted in CurrentMemoryContext.
 */
bool		read_broadcast_row(HeapTuple tuple, TupleDesc desc, const MessageLayout *layout,
							   BroadcastRow *row);

#endif
