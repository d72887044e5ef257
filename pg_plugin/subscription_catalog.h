/*
 * subscription_catalog.h: reading realtime.subscription from Postgres.
 *
 * Owns the knowledge of the table's name and columns: recognising the table, turning
 * one of its tuples into a plain SubscriptionRow (subscription_catalog.cpp), and
 * loading the whole table (subscription_load.cpp): with a fresh MVCC snapshot at the
 * start of a decoding session, or exactly as of a transaction's commit. Plain code over
 * plain data (see pg_guard.h): results are palloc'd in the current memory context.
 */
#ifndef PG_REALTIME_SUBSCRIPTION_CATALOG_H
#define PG_REALTIME_SUBSCRIPTION_CATALOG_H

#include "pg_headers.h"
#include "subscription_set.h"

/* Where the extension keeps the table. */
inline constexpr char subscription_schema[] = "realtime";
inline constexpr char subscription_table[] = "subscription";

/* Attribute numbers of the columns the plugin reads; 0 when a column is missing. */
struct SubscriptionLayout
{
	AttrNumber	id;
	AttrNumber	node_id;
	AttrNumber	entity;
	AttrNumber	action_filter;
	AttrNumber	filters;
	AttrNumber	entity_schema;
	AttrNumber	claims;
	AttrNumber	claims_role;
	AttrNumber	select_columns;
};

/* True if rel is realtime.subscription (a user catalog table of that name). */
bool		relation_is_subscription_table(Relation rel);

/* Finds the columns by name; false if one is missing (the table is not ours). */
bool		subscription_layout(TupleDesc desc, SubscriptionLayout *layout);

/*
 * Reads a full row (a new tuple). Returns false if it has no id. Columns whose value is
 * an unchanged TOAST pointer (an UPDATE that did not touch them) come back as unknown,
 * see SubscriptionRow.
 */
bool		read_subscription_row(HeapTuple tuple, TupleDesc desc,
								  const SubscriptionLayout *layout, SubscriptionRow *row);

/* Reads the id of an old key tuple (a DELETE). */
bool		read_subscription_id(HeapTuple tuple, TupleDesc desc,
								 const SubscriptionLayout *layout, int64 *id);

/* Copies of the rows of realtime.subscription, not parsed yet. */
struct SubscriptionTuples
{
	Oid			relid;			/* InvalidOid if the database has no such table */
	Oid			relfilenode;	/* its storage now (TRUNCATE gives it new storage) */
	/* The exact reload cannot fail, so the rows were not copied (count is 0). */
	bool		exact_load_certain;
	TupleDesc	desc;
	SubscriptionLayout layout;
	int			count;
	HeapTuple  *tuples;
};

/*
 * Copies every row of realtime.subscription with a fresh MVCC snapshot, inside the
 * caller's transaction or, when there is none (a walsender), in one of its own.
 * Everything is palloc'd in the caller's memory context. Returns the row count.
 * The copy is only a fallback for the exact reload at the session's first transaction
 * (load_subscription_rows_before); it is skipped when that reload cannot fail, that is
 * when the table is older than the slot's catalog horizon catalog_xmin.
 */
int			load_subscription_tuples(SubscriptionTuples *out, TransactionId catalog_xmin);

/* Parses copied rows; *rows is palloc'd in the current memory context. */
int			parse_subscription_tuples(const SubscriptionTuples *tuples, SubscriptionRow **rows);

/*
 * Reads the rows of the table as they were just before txn committed, with the
 * snapshot builder's historic snapshot; to be called from txn's begin callback, the
 * first of the session. Returns -1 if the table cannot be read that way: the catalog
 * as txn sees it does not have the table, or has it on other storage than now (an
 * older storage may already be unlinked).
 */
int			load_subscription_rows_before(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
										  const SubscriptionTuples *now,
										  SubscriptionRow **rows);

#endif
