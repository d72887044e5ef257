/*
 * subscription_feed.cpp: the subscriptions of a decoding session, from its startup
 * load to each decoded change of realtime.subscription (see subscription_feed.h).
 *
 * The starting point of a session (docs/architecture.md, "Keeping the index current")
 * is read at the first decoded transaction, as of just before that transaction's
 * commit, with the snapshot builder's historic snapshot: exact. A copy taken at startup
 * with a fresh MVCC snapshot (every subscription committed before the resume point,
 * possibly later ones too) stands in when that read is impossible.
 */
#include "subscription_feed.h"
#include "pg_guard.h"

/* Pure C++: applies one row of realtime.subscription to the set. */
static void
apply_subscription_row(PluginState *state, const SubscriptionRow &row, bool inserted,
					   bool full_load = false)
{
	/* A full load starts from an empty set: there is no previous version to look up. */
	const Subscription *previous = full_load ? nullptr : state->subscriptions.find(row.id);
	Subscription sub = SubscriptionSet::from_row(row, previous, state->nodes);
	const Match match{sub.node, sub.id};
	/* Moved to another node (a client resuming there, docs/architecture.md "Parked
	 * subscriptions"): that node learns it, in commit order, as for a new one. */
	const bool moved = previous != nullptr && previous->node != sub.node;
	const WatchKey key = watch_key(sub);
	const WatchKey previous_key = state->subscriptions.upsert(std::move(sub));

	if (!full_load)
	{
		state->relations.subscriptions_changed(key);
		if (previous_key != 0 && previous_key != key)
			state->relations.subscriptions_changed(previous_key);
	}
	if ((inserted || moved) && state->options.subscription_events)
		state->txn.subscribed.push_back(match);
}

static void
remove_subscription(PluginState *state, int64 id)
{
	WatchKey	key = state->subscriptions.remove(id);

	if (key != 0)
		state->relations.subscriptions_changed(key);
}

/* Pure C++: replaces the set with rows (a load). */
static void
replace_subscriptions(PluginState *state, const SubscriptionRow *rows, int nrows)
{
	state->subscriptions.clear();
	state->subscriptions.reserve(nrows);
	state->relations.all_subscriptions_changed();
	for (int i = 0; i < nrows; i++)
		apply_subscription_row(state, rows[i], false, true);
}

/*
 * Startup: every subscription committed so far, read with a fresh snapshot. The rows
 * are only copied: the session's first transaction usually replaces them with an exact
 * reload (feed_position), and then they are never parsed.
 */
void
feed_load_startup(LogicalDecodingContext *ctx, PluginState *state)
{
	MemoryContext old;

	state->startup_memory = AllocSetContextCreate(ctx->context, "pg_realtime startup rows",
												  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(state->startup_memory);
	load_subscription_tuples(&state->startup, ctx->slot->data.catalog_xmin);
	MemoryContextSwitchTo(old);
	if (state->startup.exact_load_certain)
		elog(DEBUG1, "pg_realtime: realtime.subscription predates the slot's catalog horizon: "
			 "no fallback load needed");
	else
		elog(DEBUG1, "pg_realtime: loaded %d subscriptions with a fresh snapshot",
			 state->startup.count);
}

/*
 * The session's first transaction: the subscriptions exactly as they were before it
 * committed, or the startup load if that cannot be read. Nothing was matched yet.
 */
void
feed_position(LogicalDecodingContext *ctx, PluginState *state, ReorderBufferTXN *txn)
{
	MemoryContext old = MemoryContextSwitchTo(state->change_memory);
	SubscriptionRow *rows = NULL;
	int			nrows = -1;

	state->positioned = true;
	if (OidIsValid(state->startup.relid))
	{
		nrows = load_subscription_rows_before(ctx, txn, &state->startup, &rows);
		if (nrows >= 0)
			elog(DEBUG1, "pg_realtime: loaded %d subscriptions as of transaction %u",
				 nrows, txn->xid);
		else if (state->startup.exact_load_certain)
			ereport(WARNING,
					(errmsg("pg_realtime: realtime.subscription is not readable as of "
							"transaction %u although it predates the slot; "
							"no subscription was loaded", txn->xid)));
		else
			elog(DEBUG1, "pg_realtime: kept the startup load: realtime.subscription is not "
				 "readable as of transaction %u", txn->xid);
	}
	if (nrows < 0)
		nrows = parse_subscription_tuples(&state->startup, &rows);
	pg_guard("loading realtime.subscription", [&] { replace_subscriptions(state, rows, nrows); });
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_memory);
	if (state->startup_memory)
		MemoryContextDelete(state->startup_memory);
	state->startup_memory = nullptr;
	memset(&state->startup, 0, sizeof(state->startup));
}

void
feed_apply_change(PluginState *state, RelationEntry *entry, Relation rel,
				  ReorderBufferChange *change)
{
	TupleDesc	desc = RelationGetDescr(rel);
	ReorderBufferTupleBuf *newtuple = change->data.tp.newtuple;
	ReorderBufferTupleBuf *oldtuple = change->data.tp.oldtuple;
	SubscriptionRow row;
	int64		old_id;

	if (oldtuple && read_subscription_id(&oldtuple->tuple, desc, &entry->layout, &old_id))
	{
		/* A DELETE, or an UPDATE that changed the id (then the old id is gone). */
		if (change->action == REORDER_BUFFER_CHANGE_DELETE || newtuple == NULL ||
			!read_subscription_row(&newtuple->tuple, desc, &entry->layout, &row) ||
			row.id != old_id)
			remove_subscription(state, old_id);
	}
	else if (change->action == REORDER_BUFFER_CHANGE_DELETE)
		ereport(WARNING,
				(errmsg("pg_realtime: a DELETE from realtime.subscription carries no id"),
				 errhint("Keep the replica identity of realtime.subscription at DEFAULT.")));

	if (change->action != REORDER_BUFFER_CHANGE_DELETE && newtuple &&
		read_subscription_row(&newtuple->tuple, desc, &entry->layout, &row))
		apply_subscription_row(state, row,
							   change->action == REORDER_BUFFER_CHANGE_INSERT);
}

void
feed_truncate(PluginState *state)
{
	state->subscriptions.clear();
	state->relations.all_subscriptions_changed();
}
