/*
 * subscription_index.h: the subscriptions of one relation, compiled for matching.
 *
 * Owns the RelationIndex: the subscriptions on a relation (and on its partition
 * ancestors) compiled against the relation's tuple descriptor, and matching a row
 * against them. Each subscription is anchored on its first eq/in filter (without not.)
 * whose type has hash support: a hash table per anchored column maps the hash of a value
 * (the type's own hash function, so numeric 1.0 and 1.00 collide) to the subscriptions
 * anchored on that value. A row costs one hash probe per anchored column, then a full
 * check of the few candidates (so hash collisions are harmless), plus a check of every
 * unanchored subscription (range and pattern filters, neq, is, isdistinct, not., no
 * filter). Subscriptions on other values cost nothing.
 *
 * Compiling is two-phase (see pg_guard.h): compile_subscriptions() is plain code that
 * parses filter values with the types' input functions into the index's memory
 * context; the RelationIndex constructor is pure C++ that builds the hash tables.
 */
#ifndef PG_REALTIME_SUBSCRIPTION_INDEX_H
#define PG_REALTIME_SUBSCRIPTION_INDEX_H

#include "pg_headers.h"
#include "filter.h"
#include "hash_buckets.h"
#include "row_view.h"
#include "subscription_set.h"

#include <vector>

/* A subscription that a change matched. */
struct Match
{
	uint32_t	node;
	int64_t		id;
};

struct CompiledSubscription
{
	int64		id;
	uint32		node;
	uint8		actions;
	int			nfilters;
	CompiledFilter *filters;
	int			anchor;			/* index of the anchoring filter, -1 if unanchored */
	int			nhashes;		/* distinct hashes of the anchor's values */
	uint32	   *hashes;
};

struct CompiledSet
{
	int			nsubs;
	CompiledSubscription *subs;
	/* The attributes the filters read, ascending: all a row needs for matching. */
	int			ncolumns;
	AttrNumber *columns;
	/* Scratch rows holding just those columns, reused by every change (see probe()). */
	RowView		probe_new;
	RowView		probe_old;
};

/*
 * Phase 1 (plain): compiles subs against desc, allocating in CurrentMemoryContext.
 * A subscription that cannot be compiled (its column was dropped, its value no longer
 * parses, its row was unreadable) matches nothing and is reported with a WARNING.
 */
CompiledSet *compile_subscriptions(TupleDesc desc, const char *relname,
								   const Subscription *const *subs, int nsubs);

/*
 * Fills the compiled set's scratch rows with the filter columns of a change: the new
 * tuple (with unchanged TOAST values from the old one) for INSERT and UPDATE, the old
 * one for DELETE. Returns the row the filters apply to. No allocation: this is the
 * path of every change of a relation with subscriptions, most of which match nothing.
 */
const RowView *probe_change(const CompiledSet *compiled, uint8 kind, HeapTuple newtuple,
							HeapTuple oldtuple, TupleDesc desc, const RelationShape *shape);

class RelationIndex
{
public:
	/* Phase 2 (pure C++). compiled lives in memory, which the index then owns. */
	RelationIndex(MemoryContext memory, const CompiledSet *compiled);

	RelationIndex(const RelationIndex &) = delete;
	RelationIndex &operator=(const RelationIndex &) = delete;

	/* The memory context holding the compiled filters; its owner deletes it. */
	MemoryContext memory() const { return memory_; }
	const CompiledSet *compiled() const { return compiled_; }

	/*
	 * Appends to *out the subscriptions whose action filter includes kind (an ACTION_*
	 * bit) and whose every filter holds on row.
	 */
	void		match(uint8 kind, const RowView *row, std::vector<Match> *out) const;

private:
	struct Anchor
	{
		const ColumnOps *column;
		HashBuckets buckets;	/* value hash -> subscription positions */
	};

	void		check(const CompiledSubscription &sub, uint8 kind, const RowView *row,
					  std::vector<Match> *out) const;

	MemoryContext memory_;
	const CompiledSet *compiled_;
	const CompiledSubscription *subs_;
	std::vector<Anchor> anchors_;
	std::vector<uint32_t> unanchored_;
};

#endif
