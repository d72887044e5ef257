/*
 * plugin.cpp: the pg_realtime output plugin's callbacks.
 *
 * Owns the decoding session's callbacks: one per decoding event, and the order of work
 * inside each. Like contrib/test_decoding and pgoutput, each callback is short; the
 * work lives in the files named after what they own:
 *   session.h                the session's state (PluginState)
 *   options.cpp              the plugin options
 *   subscription_feed.cpp    keeping the subscriptions current (startup, positioning,
 *                            decoded changes of realtime.subscription)
 *   subscription_catalog.cpp reading realtime.subscription tuples and the whole table
 *   message_catalog.cpp      the partitions of realtime.messages and their broadcasts
 *   subscription_set.cpp     the raw subscriptions, by id and relation
 *   subscription_access.cpp  each subscription's policy template and claim values
 *   subscription_compile.cpp compiling a relation's subscriptions (filters, policies)
 *   subscription_index.cpp   a relation's compiled subscriptions and matching
 *   role_access.cpp          what a role may read of a relation (privileges, policies)
 *   policy_*.cpp             a role's policies as atoms the index matches, or a check
 *   claims_eval.cpp          the claim expressions of policies, per subscriber
 *   change_recipients.cpp    a change's matches as the document's recipients
 *   hash_buckets.cpp         the lookup table of an anchored column
 *   filter.cpp               typed filter conditions
 *   pattern_op.cpp           like/ilike/match/imatch with Postgres' operators
 *   filter_syntax.cpp        SQL-callable filter text splitting (for sql/filter.sql)
 *   relation_cache.cpp       per-relation state and its invalidation
 *   row_view.cpp             which values of a change are known (TOAST, identity)
 *   row_writer.cpp           the JSON documents
 *   json_value.cpp           each value as Supabase sends it
 *   output_settings.cpp      the settings (TimeZone, DateStyle, ...) decoding runs with
 *
 * Every callback is extern "C" and runs its C++ body inside pg_guard(); see pg_guard.h
 * for the rules on exceptions, Postgres errors and memory that all files follow.
 */
#include "pg_headers.h"
#include "pg_guard.h"

#include "change_recipients.h"
#include "output_settings.h"
#include "session.h"
#include "subscription_feed.h"

#include <algorithm>

extern "C"
{
PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);
}

/* Skipped changes between two progress reports, so long filtered transactions keep
 * the walsender's peer informed (PG 15 does not do it for the plugin). */
static const uint32 progress_every = 100;

/*
 * The session whose relation cache the invalidation callbacks invalidate. A backend runs
 * at most one decoding session at a time; the callbacks are registered once per backend.
 */
static PluginState *active_state = nullptr;
static bool callbacks_registered = false;

/* ---- row changes ---- */

static uint8
change_kind(ReorderBufferChangeType action)
{
	switch (action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			return ACTION_INSERT;
		case REORDER_BUFFER_CHANGE_UPDATE:
			return ACTION_UPDATE;
		case REORDER_BUFFER_CHANGE_DELETE:
			return ACTION_DELETE;
		default:
			return 0;
	}
}

static void
note_skipped(LogicalDecodingContext *ctx, PluginState *state)
{
	if (++state->skipped_since_progress >= progress_every)
	{
		state->skipped_since_progress = 0;
		OutputPluginUpdateProgress(ctx, false);
	}
}

/*
 * The failures a fresh compile of index found, once: their subscriptions are dead from
 * now on (every index using them recompiles without them). NULL if there are none.
 */
static FailedSubscription *
take_failures(PluginState *state, const RelationIndex *index, int *nfailed)
{
	const CompiledSet *compiled = index ? index->compiled() : nullptr;
	FailedSubscription *failed;

	*nfailed = 0;
	if (compiled == nullptr || compiled->nfailed == 0 || !index->claim_failures())
		return nullptr;
	for (int i = 0; i < compiled->nfailed; i++)
	{
		const Subscription *sub = state->subscriptions.find(compiled->failed[i].id);

		state->subscriptions.mark_dead(compiled->failed[i].id);
		if (sub)
			state->relations.subscriptions_changed(watch_key(*sub));
	}
	failed = (FailedSubscription *) palloc(sizeof(FailedSubscription) * compiled->nfailed);
	memcpy(failed, compiled->failed, sizeof(FailedSubscription) * compiled->nfailed);
	order_failures(failed, compiled->nfailed);
	*nfailed = compiled->nfailed;
	return failed;
}

static void
emit_row_change(LogicalDecodingContext *ctx, PluginState *state, RowChange *doc)
{
	doc->matches = state->matches.data();
	doc->nmatches = (int) state->matches.size();
	doc->nodes = &state->nodes;
	doc->txn = &state->txn.text;

	OutputPluginPrepareWrite(ctx, true);
	write_row_change(ctx->out, doc, state->options.max_record_bytes);
	OutputPluginWrite(ctx, true);
	state->txn.emitted = true;
}

/*
 * Collects into state->matches the subscriptions a change matches, reading only the
 * filter columns: most changes stop here.
 */
static void
match_change(PluginState *state, RelationEntry *entry, const RelationIndex *index,
			 Relation rel, ReorderBufferChange *change, uint8 kind)
{
	ReorderBufferTupleBuf *newtuple = change->data.tp.newtuple;
	ReorderBufferTupleBuf *oldtuple = change->data.tp.oldtuple;

	state->matches.clear();
	if (index)
	{
		const RowView *probe = probe_change(index->compiled(), kind,
											newtuple ? &newtuple->tuple : NULL,
											oldtuple ? &oldtuple->tuple : NULL,
											RelationGetDescr(rel), entry->shape);

		index->match(kind, probe, &state->matches);
		order_recipients(&state->matches, index->compiled()->multi_entry);
	}
}

/* The rows of the document: the new row, and the old one (or its identity). */
static void
read_rows(RowChange *doc, RelationEntry *entry, Relation rel, ReorderBufferChange *change,
		  RowView *newrow, RowView *oldrow)
{
	TupleDesc	desc = RelationGetDescr(rel);
	ReorderBufferTupleBuf *newtuple = change->data.tp.newtuple;
	ReorderBufferTupleBuf *oldtuple = change->data.tp.oldtuple;

	row_view_new(newrow, newtuple ? &newtuple->tuple : NULL, desc, entry->shape);
	row_view_old(oldrow, oldtuple ? &oldtuple->tuple : NULL, desc, entry->shape);
	if (doc->kind == ACTION_UPDATE)
		row_view_take_unchanged_toast(newrow, oldrow);
	if (doc->kind == ACTION_UPDATE && !oldrow->exists)
		row_view_identity_of(oldrow, newrow, entry->shape);
	doc->record = newrow;
	doc->old_record = oldrow;
}

/*
 * A change of realtime.messages: an inserted broadcast row becomes its BROADCAST
 * document; the table's other rows and changes are never emitted (not even with
 * include-unmatched).
 */
static void
handle_message_change(LogicalDecodingContext *ctx, PluginState *state, RelationEntry *entry,
					  Relation rel, ReorderBufferChange *change, int64 change_index)
{
	ReorderBufferTupleBuf *newtuple = change->data.tp.newtuple;
	BroadcastRow row;

	if (change->action != REORDER_BUFFER_CHANGE_INSERT || newtuple == NULL ||
		!read_broadcast_row(&newtuple->tuple, RelationGetDescr(rel), &entry->messages, &row))
	{
		note_skipped(ctx, state);
		return;
	}
	OutputPluginPrepareWrite(ctx, true);
	write_broadcast(ctx->out, &state->txn.text, change_index, &row);
	OutputPluginWrite(ctx, true);
	state->txn.emitted = true;
}

static void
handle_change(LogicalDecodingContext *ctx, PluginState *state, Relation rel,
			  ReorderBufferChange *change)
{
	const int64 change_index = state->txn.next_change_index++;
	const uint8 kind = change_kind(change->action);
	RelationEntry *entry;
	const RelationIndex *index;
	RowView		newrow;
	RowView		oldrow;
	RowChange	doc = {};
	int			nmatches;

	if (kind == 0)
		return;
	entry = state->relations.entry_for(rel);
	if (entry->kind == RelationKind::Subscriptions)
	{
		/* Feeds the index; never emitted (its rows hold clients' JWT claims). */
		feed_apply_change(state, entry, rel, change);
		return;
	}
	if (entry->kind == RelationKind::Messages)
	{
		handle_message_change(ctx, state, entry, rel, change, change_index);
		return;
	}
	index = state->relations.index_for(entry, rel, state->subscriptions);
	doc.failed = take_failures(state, index, &doc.nfailed);
	match_change(state, entry, index, rel, change, kind);
	if (state->matches.empty() && doc.nfailed == 0 && !state->options.include_unmatched)
	{
		note_skipped(ctx, state);
		return;
	}

	doc.kind = kind;
	doc.shape = entry->shape;
	doc.lsn = change->lsn;
	doc.change_index = change_index;
	read_rows(&doc, entry, rel, change, &newrow, &oldrow);
	if (index)
	{
		doc.compiled = index->compiled();
		nmatches = (int) state->matches.size();
		doc.check_row = prepare_checks(doc.compiled, kind == ACTION_DELETE ? &oldrow : &newrow,
									   RelationGetDescr(rel), state->matches.data(), &nmatches);
		state->matches.resize(nmatches);
	}
	emit_row_change(ctx, state, &doc);
}

/* ---- callbacks ---- */

extern "C"
{

static void
free_plugin_state(void *arg)
{
	PluginState *state = static_cast<PluginState *>(arg);

	if (active_state == state)
		active_state = nullptr;
	delete state;
}

static void
relcache_invalidated(Datum arg, Oid relid)
{
	if (active_state)
		active_state->relations.invalidate(relid);
}

/* Roles, role membership, functions and schemas: every policy template may depend on them. */
static void
catalog_invalidated(Datum arg, int cacheid, uint32 hashvalue)
{
	if (active_state)
		active_state->relations.invalidate(InvalidOid);
}

static void
register_invalidation_callbacks(void)
{
	static const int caches[] = {AUTHOID, AUTHMEMROLEMEM, PROCOID, NAMESPACEOID};

	if (callbacks_registered)
		return;
	CacheRegisterRelcacheCallback(relcache_invalidated, (Datum) 0);
	for (int cache : caches)
		CacheRegisterSyscacheCallback(cache, catalog_invalidated, (Datum) 0);
	callbacks_registered = true;
}

static void
rt_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init)
{
	PluginOptions options;
	MemoryContext change_memory;
	MemoryContext cache_memory;
	MemoryContextCallback *teardown;
	PluginState *state = nullptr;

	opt->output_type = OUTPUT_PLUGIN_TEXTUAL_OUTPUT;
	opt->receive_rewrites = false;
	parse_plugin_options(ctx->output_plugin_options, &options);

	change_memory = AllocSetContextCreate(ctx->context, "pg_realtime change",
										  ALLOCSET_DEFAULT_SIZES);
	cache_memory = AllocSetContextCreate(ctx->context, "pg_realtime relations",
										 ALLOCSET_DEFAULT_SIZES);
	teardown = (MemoryContextCallback *) MemoryContextAllocZero(ctx->context,
																sizeof(MemoryContextCallback));
	pg_guard("startup", [&] {
		state = new PluginState(options, change_memory, cache_memory);
	});

	/* Freed with the decoding context, also when an ERROR abandons the session. */
	teardown->func = free_plugin_state;
	teardown->arg = state;
	MemoryContextRegisterResetCallback(ctx->context, teardown);
	ctx->output_plugin_private = state;
	active_state = state;

	register_invalidation_callbacks();

	/* Creating a slot decodes nothing: there is no session to prepare. */
	if (is_init)
		return;
	state->settings_nest_level = pin_output_settings();
	feed_load_startup(ctx, state);
}

static void
rt_shutdown(LogicalDecodingContext *ctx)
{
	PluginState *state = static_cast<PluginState *>(ctx->output_plugin_private);

	/* The state is freed by the reset callback of ctx->context (see rt_startup). */
	if (state)
		restore_output_settings(state->settings_nest_level);
}

static void
rt_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PluginState *state = static_cast<PluginState *>(ctx->output_plugin_private);

	if (!state->positioned)
		feed_position(ctx, state, txn);
	pg_guard("begin", [&] { state->txn.subscribed.clear(); });
	state->txn.next_change_index = 0;
	state->txn.emitted = false;
	format_lsn(state->txn.text.commit_lsn, txn->final_lsn);
	format_commit_time(state->txn.text.commit_time, txn->xact_time.commit_time);
}

static void
rt_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation relation,
		  ReorderBufferChange *change)
{
	PluginState *state = static_cast<PluginState *>(ctx->output_plugin_private);
	MemoryContext old = MemoryContextSwitchTo(state->change_memory);

	pg_guard("change", [&] { handle_change(ctx, state, relation, change); });
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_memory);
}

static void
rt_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int nrelations,
			Relation relations[], ReorderBufferChange *change)
{
	PluginState *state = static_cast<PluginState *>(ctx->output_plugin_private);
	MemoryContext old = MemoryContextSwitchTo(state->change_memory);

	/* A TRUNCATE is one change; it is never emitted (not a postgres_changes event). */
	state->txn.next_change_index++;
	pg_guard("truncate", [&] {
		for (int i = 0; i < nrelations; i++)
		{
			RelationEntry *entry = state->relations.entry_for(relations[i]);

			if (entry->kind == RelationKind::Subscriptions)
				feed_truncate(state);
		}
	});
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_memory);
	note_skipped(ctx, state);
}

static void
rt_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	PluginState *state = static_cast<PluginState *>(ctx->output_plugin_private);
	TxnState   *t = &state->txn;

	if (state->options.subscription_events && !t->subscribed.empty())
	{
		pg_guard("commit", [&] {
			std::sort(t->subscribed.begin(), t->subscribed.end(), match_order);
		});
		OutputPluginPrepareWrite(ctx, true);
		write_subscribed(ctx->out, &t->text, t->next_change_index, t->subscribed.data(),
						 (int) t->subscribed.size(), &state->nodes);
		OutputPluginWrite(ctx, true);
		t->emitted = true;
	}
	/* Let the walsender confirm past a transaction that produced nothing. */
	if (!t->emitted)
		OutputPluginUpdateProgress(ctx, true);
}

}								/* extern "C" */

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = rt_startup;
	cb->begin_cb = rt_begin;
	cb->change_cb = rt_change;
	cb->truncate_cb = rt_truncate;
	cb->commit_cb = rt_commit;
	cb->shutdown_cb = rt_shutdown;
}
