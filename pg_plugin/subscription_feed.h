/*
 * subscription_feed.h: keeping a session's subscriptions current.
 *
 * Owns the life of the subscription set within a decoding session (design 3.3 and
 * docs/architecture.md, "Keeping the index current"): the startup load (a copy of the
 * rows with a fresh MVCC snapshot, a fallback), the positioning at the session's first
 * transaction (the rows exactly as they were just before it committed, read with the
 * snapshot builder's historic snapshot), and applying the decoded changes of
 * realtime.subscription in commit order. Each change tells the relation cache which
 * relations' compiled indexes went stale.
 */
#ifndef PG_REALTIME_SUBSCRIPTION_FEED_H
#define PG_REALTIME_SUBSCRIPTION_FEED_H

#include "session.h"

/* Startup: copies the rows committed so far (unless the exact reload cannot fail). */
void		feed_load_startup(LogicalDecodingContext *ctx, PluginState *state);

/* The session's first transaction (its begin callback): the exact starting set. */
void		feed_position(LogicalDecodingContext *ctx, PluginState *state,
						  ReorderBufferTXN *txn);

/* A decoded INSERT, UPDATE or DELETE of realtime.subscription. */
void		feed_apply_change(PluginState *state, RelationEntry *entry, Relation rel,
							  ReorderBufferChange *change);

/* A TRUNCATE of realtime.subscription. Pure C++. */
void		feed_truncate(PluginState *state);

#endif
