/*
 * subscription_index.h: the subscriptions of one relation, compiled for matching.
 *
 * Owns the RelationIndex: the entries of the subscriptions that apply to a relation,
 * compiled against its tuple descriptor, and matching a row against them. An entry is a
 * conjunction of typed conditions: the subscription's filters, and for a role under
 * row level security one disjunct of its policies (policy_template.h), so a subscription
 * may have several entries; matches are deduplicated by subscription. Each entry is
 * anchored on its first eq/in condition (without not.) whose type has hash support: a
 * hash table per anchored column maps the hash of a value (the type's own hash
 * function, so numeric 1.0 and 1.00 collide) to the entries anchored on that value. A
 * row costs one hash probe per anchored column, then a full check of the few candidates
 * (so hash collisions are harmless), plus a check of every unanchored entry (range and
 * pattern filters, neq, is, isdistinct, not., no filter). Subscriptions on other values
 * cost nothing, `auth.uid() = user_id` included.
 *
 * An entry also says which columns its subscriber receives (a view: the role's column
 * privileges and the binding's select option) and whether a match is only a candidate
 * that the relay must check in Postgres (the general path: a residual policy).
 *
 * Compiling is two-phase (see pg_guard.h): compile_subscriptions()
 * (subscription_compile.cpp) is plain code that parses filter values with the types'
 * input functions and instantiates the policies for each subscriber into the index's
 * memory context; the RelationIndex constructor is pure C++ that builds the hash tables.
 */
#ifndef PG_REALTIME_SUBSCRIPTION_INDEX_H
#define PG_REALTIME_SUBSCRIPTION_INDEX_H

#include "pg_headers.h"
#include "filter.h"
#include "hash_buckets.h"
#include "policy_template.h"
#include "row_view.h"
#include "subscription_set.h"

#include <vector>

/* A subscription that a change matched. */
struct Match
{
	uint32_t	node;
	int64_t		id;
	uint16_t	view = 0;		/* 0: every column; else CompiledSet.views[view - 1] */
	uint16_t	check = 0;		/* 0: delivered; else a candidate for checks[check - 1] */
};

/* The columns a group of subscribers receives, when not all of them. */
struct ColumnView
{
	bool	   *mask;			/* per attribute */
	char	   *columns_json;	/* "columns":["name",...] */
	int			columns_json_len;
};

/* A subscription the compile found it cannot serve: reported once, then dead. */
struct FailedSubscription
{
	int64		id;
	uint32		node;
	const char *message;
};

struct CompiledSubscription
{
	int64		id;
	uint32		node;
	uint8		actions;
	uint16		view;			/* as in Match */
	uint16		check;
	int			nfilters;
	CompiledFilter *filters;
	int			anchor;			/* index of the anchoring filter, -1 if unanchored */
	int			nhashes;		/* distinct hashes of the anchor's values */
	uint32	   *hashes;
};

struct CompiledSet
{
	int			nsubs;			/* entries */
	CompiledSubscription *subs;
	/* Some subscription has several entries: matches are deduplicated by id. */
	bool		multi_entry;
	int			nviews;
	ColumnView *views;
	int			nchecks;
	const PolicyCheck **checks;
	const char **check_roles;
	int			nfailed;
	FailedSubscription *failed;
	/* The attributes the conditions read, ascending: all a row needs for matching. */
	int			ncolumns;
	AttrNumber *columns;
	/* Scratch rows holding just those columns, reused by every change (see probe()). */
	RowView		probe_new;
	RowView		probe_old;
};

struct SubscriptionAccess;

/*
 * Phase 1 (plain): compiles subs (with access[i], see subscription_access.h) against
 * rel, allocating in CurrentMemoryContext. A subscription that cannot be served (its
 * role cannot read the table or a column it filters on, its claims make a policy raise,
 * its filter column was dropped, its value no longer parses, its row was unreadable)
 * matches nothing, is listed in failed, and is reported with a WARNING.
 */
CompiledSet *compile_subscriptions(Relation rel, const RelationShape *shape,
								   const Subscription *const *subs,
								   const SubscriptionAccess *access, int nsubs);

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
	/* True the first time only: the compile's failures are reported once. */
	bool		claim_failures() const
	{
		bool		first = !failures_claimed_;

		failures_claimed_ = true;
		return first;
	}

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
	mutable bool failures_claimed_ = false;
	const CompiledSubscription *subs_;
	/* ACTION_INSERT, ACTION_UPDATE or ACTION_DELETE as 0, 1 or 2. */
	static int	kind_slot(uint8 kind) { return kind == ACTION_INSERT ? 0 : kind == ACTION_UPDATE ? 1 : 2; }

	std::vector<Anchor> anchors_;
	std::vector<uint32_t> unanchored_[3];	/* per kind of change */
};

#endif
