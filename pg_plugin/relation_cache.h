/*
 * relation_cache.h: what the session knows about each relation it decodes.
 *
 * Owns one RelationEntry per relation: whether it is realtime.subscription (and where
 * its columns are), its output shape, what its subscriptions watch (the relation, its
 * partition ancestors, and its schema when the publication supabase_realtime covers it:
 * whole-schema bindings), the policy templates of the roles subscribed to it, and its
 * compiled RelationIndex, built lazily at its first change. Entries go stale on a
 * relcache invalidation of the relation or of an ancestor (schema changes, GRANT and
 * REVOKE, row level security and policy changes, publication membership), and all of
 * them on a change to roles, role membership, functions or schemas (the templates
 * depend on those); indexes go stale on a change to the subscriptions they watch. Both
 * are rebuilt at the next use, under the catalog of that change.
 *
 * The invalidation callbacks may run in the middle of our own catalog lookups, so they
 * only set flags; memory is freed at the start of the next lookup, never under a caller.
 */
#ifndef PG_REALTIME_RELATION_CACHE_H
#define PG_REALTIME_RELATION_CACHE_H

#include "pg_headers.h"
#include "message_catalog.h"
#include "policy_template.h"
#include "relation_shape.h"
#include "subscription_catalog.h"
#include "subscription_index.h"
#include "subscription_set.h"

#include <unordered_map>

enum class RelationKind : uint8
{
	User,						/* a table whose changes may be emitted */
	Subscriptions,				/* realtime.subscription: feeds the index, never emitted */
	Messages					/* a partition of realtime.messages: its broadcasts, and
								 * nothing else, are emitted (never matched) */
};

/* A role's policy template for the relation (see policy_template.h). */
struct TemplateSlot
{
	Oid			access_relid;	/* the relation the subscriber named */
	const char *role;
	PolicyTemplate *policy;
};

struct RelationEntry
{
	Oid			relid = InvalidOid;
	bool		stale = true;	/* set by an invalidation */
	RelationKind kind = RelationKind::User;
	MemoryContext memory = nullptr; /* shape, layout, watch list, templates and the index */
	RelationShape *shape = nullptr;
	SubscriptionLayout layout = {};
	MessageLayout messages = {};
	/* What subscriptions that apply to it watch: relid, its ancestors, maybe its schema. */
	int			nwatched = 0;
	WatchKey   *watched = nullptr;
	int			ntemplates = 0;
	int			template_capacity = 0;
	TemplateSlot *templates = nullptr;

	/* Bumped when the subscriptions of a subscribable relation change. */
	uint64		subscriptions_version = 1;
	/* The version the index was compiled at; 0: not compiled. */
	uint64		index_version = 0;
	RelationIndex *index = nullptr;	/* nullptr when compiled: no subscriptions */
};

class RelationCache
{
public:
	RelationCache(MemoryContext parent, bool arrays_as_json)
		: parent_(parent), arrays_as_json_(arrays_as_json) {}
	~RelationCache();

	RelationCache(const RelationCache &) = delete;
	RelationCache &operator=(const RelationCache &) = delete;

	/* The current entry for rel, (re)built if needed. */
	RelationEntry *entry_for(Relation rel);

	/*
	 * The compiled subscriptions of a User entry, compiled if needed; nullptr if no
	 * subscription applies to the relation.
	 */
	const RelationIndex *index_for(RelationEntry *entry, Relation rel,
								   const SubscriptionSet &subscriptions);

	/*
	 * Invalidation callbacks: relid's entry and those watching it (its partitions) go
	 * stale; all entries for InvalidOid.
	 */
	void		invalidate(Oid relid) noexcept;
	/* The subscriptions watching key changed: indexes that use them go stale. */
	void		subscriptions_changed(WatchKey key) noexcept;
	void		all_subscriptions_changed() noexcept;

private:
	void		sweep_stale();
	void		release(RelationEntry *entry);
	void		build(RelationEntry *entry, Relation rel);
	void		drop_index(RelationEntry *entry);
	const Subscription **collect(RelationEntry *entry, const SubscriptionSet &subscriptions,
								 int *count);

	MemoryContext parent_;
	bool		arrays_as_json_;	/* how row shapes write array columns */
	std::unordered_map<Oid, RelationEntry *> entries_;
	bool		any_stale_ = false;
	/* The entry of the previous lookup: changes come in runs on one relation. */
	RelationEntry *last_ = nullptr;
};

#endif
