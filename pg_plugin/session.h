/*
 * session.h: the state of one decoding session.
 *
 * Owns PluginState, what a session keeps between callbacks: its options, the per-change
 * memory context, the subscriptions and the relation cache, the current transaction,
 * and the subscription feed's startup load. plugin.cpp runs the callbacks over it;
 * subscription_feed.cpp keeps its subscriptions current. Members are C++ containers
 * or plain data (see pg_guard.h); the state is freed with the decoding context.
 */
#ifndef PG_REALTIME_SESSION_H
#define PG_REALTIME_SESSION_H

#include "pg_headers.h"
#include "options.h"
#include "relation_cache.h"
#include "row_writer.h"
#include "subscription_catalog.h"
#include "subscription_index.h"
#include "subscription_set.h"

#include <vector>

struct TxnState
{
	TxnText		text;
	/* Position of the next change in the transaction: every decoded change counts. */
	int64		next_change_index = 0;
	bool		emitted = false;
	/* Subscriptions inserted by the transaction (for the subscription-events option). */
	std::vector<Match> subscribed;
};

struct PluginState
{
	PluginOptions options;
	MemoryContext change_memory;	/* reset after every change and message */
	NodeNames	nodes;
	SubscriptionSet subscriptions;
	RelationCache relations;
	TxnState	txn;
	/* The startup load (copied rows), kept until the session's first transaction. */
	MemoryContext startup_memory = nullptr;
	SubscriptionTuples startup = {};
	/* The subscription set holds the session's starting point (first transaction). */
	bool		positioned = false;
	std::vector<Match> matches; /* scratch: the current change's matches */
	int			settings_nest_level = 0;	/* output_settings.h */
	uint32		skipped_since_progress = 0;

	PluginState(const PluginOptions &opts, MemoryContext change_cxt, MemoryContext cache_cxt)
		: options(opts), change_memory(change_cxt), relations(cache_cxt, opts.arrays_as_json)
	{
	}
};

#endif
