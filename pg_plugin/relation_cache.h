/*
 * relation_cache.h: what the session knows about each relation it decodes.
 *
 * Owns one RelationEntry per relation: whether it is realtime.subscription (and where
 * its columns are), its output shape, the relations whose subscriptions apply to it
 * (itself and its partition ancestors), and its compiled RelationIndex, built lazily at
 * its first change. Entries go stale on a relcache invalidation of the relation
 * (schema changes), and indexes on a change to the subscriptions of one of those
 * relations; both are rebuilt at the next use.
 *
 * The relcache callback may run in the middle of our own catalog lookups, so it only
 * sets flags; memory is freed at the start of the next lookup, never under a caller.
 */
#ifndef PG_REALTIME_RELATION_CACHE_H
#define PG_REALTIME_RELATION_CACHE_H

#include "pg_headers.h"
#include "relation_shape.h"
#include "subscription_catalog.h"
#include "subscription_index.h"
#include "subscription_set.h"

#include <unordered_map>

enum class RelationKind : uint8
{
	User,						/* a table whose changes may be emitted */
	Subscriptions				/* realtime.subscription: feeds the index, never emitted */
};

struct RelationEntry
{
	Oid			relid = InvalidOid;
	bool		stale = true;	/* set by a relcache invalidation */
	RelationKind kind = RelationKind::User;
	MemoryContext memory = nullptr; /* shape, layout, ancestors and the index */
	RelationShape *shape = nullptr;
	SubscriptionLayout layout = {};
	int			nsubscribable = 0;
	Oid		   *subscribable = nullptr; /* relid, then its partition ancestors */

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

	/* Relcache callback: relid's entry (all entries for InvalidOid) goes stale. */
	void		invalidate(Oid relid) noexcept;
	/* The subscriptions on relid changed: indexes that use them go stale. */
	void		subscriptions_changed(Oid relid) noexcept;
	void		all_subscriptions_changed() noexcept;

private:
	void		sweep_stale();
	void		release(RelationEntry *entry);
	void		build(RelationEntry *entry, Relation rel);
	void		drop_index(RelationEntry *entry);

	MemoryContext parent_;
	bool		arrays_as_json_;	/* how row shapes write array columns */
	std::unordered_map<Oid, RelationEntry *> entries_;
	bool		any_stale_ = false;
	/* The entry of the previous lookup: changes come in runs on one relation. */
	RelationEntry *last_ = nullptr;
};

#endif
