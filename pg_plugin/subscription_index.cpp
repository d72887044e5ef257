/*
 * subscription_index.cpp: compiling a relation's subscriptions and matching rows
 * against them (see subscription_index.h).
 */
#include "subscription_index.h"
#include "tuple_desc.h"

#include <algorithm>

/* ---- phase 1: plain code, Postgres calls over plain data ---- */

/* Hashes of the anchor's values, duplicates removed (an "in" list may repeat a value). */
static void
hash_anchor(CompiledSubscription *out)
{
	const CompiledFilter *anchor = &out->filters[out->anchor];

	out->hashes = (uint32 *) palloc(sizeof(uint32) * anchor->nvalues);
	out->nhashes = 0;
	for (int v = 0; v < anchor->nvalues; v++)
	{
		uint32		hash = column_hash(anchor->column, anchor->values[v]);
		bool		seen = false;

		for (int k = 0; k < out->nhashes && !seen; k++)
			seen = out->hashes[k] == hash;
		if (!seen)
			out->hashes[out->nhashes++] = hash;
	}
}

/*
 * Compiles one subscription. Returns NULL on success, else why it matches nothing.
 * columns caches the ColumnOps of each attribute across the subscriptions.
 */
static const char *
compile_one(TupleDesc desc, const Subscription *sub, ColumnOps **columns,
			CompiledSubscription *out)
{
	int			nfilters = (int) sub->filters.size();

	if (!sub->invalid_reason.empty())
		return sub->invalid_reason.c_str();

	out->id = sub->id;
	out->node = sub->node;
	out->actions = sub->actions;
	out->nfilters = nfilters;
	out->filters = (CompiledFilter *) palloc0(sizeof(CompiledFilter) * Max(nfilters, 1));
	out->anchor = -1;

	for (int f = 0; f < nfilters; f++)
	{
		const FilterSpec *spec = &sub->filters[f];
		AttrNumber	attnum = attnum_by_name(desc, spec->column.c_str());
		const char *error;

		if (attnum == 0)
			return psprintf("column \"%s\" does not exist", spec->column.c_str());
		if (columns[attnum - 1] == NULL)
			columns[attnum - 1] = column_ops_create(desc, attnum);
		error = filter_compile(spec, columns[attnum - 1], &out->filters[f]);
		if (error)
			return psprintf("filter %s on column \"%s\": %s", filter_op_name(spec->op),
							spec->column.c_str(), error);
		if (out->anchor < 0 && filter_anchors(&out->filters[f]))
			out->anchor = f;
	}
	if (out->anchor >= 0)
		hash_anchor(out);
	return NULL;
}

static void
allocate_probe(RowView *row, int natts)
{
	row->natts = natts;
	row->values = (Datum *) palloc0(sizeof(Datum) * Max(natts, 1));
	row->isnull = (bool *) palloc0(sizeof(bool) * Max(natts, 1));
	row->present = (bool *) palloc0(sizeof(bool) * Max(natts, 1));
}

/* The filtered attributes (those with ColumnOps), ascending, and the scratch rows. */
static void
collect_columns(CompiledSet *set, ColumnOps **columns, int natts)
{
	set->columns = (AttrNumber *) palloc(sizeof(AttrNumber) * Max(natts, 1));
	for (int i = 0; i < natts; i++)
	{
		if (columns[i])
			set->columns[set->ncolumns++] = (AttrNumber) (i + 1);
	}
	allocate_probe(&set->probe_new, natts);
	allocate_probe(&set->probe_old, natts);
}

CompiledSet *
compile_subscriptions(TupleDesc desc, const char *relname, const Subscription *const *subs,
					  int nsubs)
{
	CompiledSet *set = (CompiledSet *) palloc0(sizeof(CompiledSet));
	ColumnOps **columns = (ColumnOps **) palloc0(sizeof(ColumnOps *) * Max(desc->natts, 1));

	set->subs = (CompiledSubscription *) palloc0(sizeof(CompiledSubscription) * Max(nsubs, 1));
	for (int i = 0; i < nsubs; i++)
	{
		const char *error = compile_one(desc, subs[i], columns, &set->subs[set->nsubs]);

		if (error)
			ereport(WARNING,
					(errmsg("pg_realtime: subscription %lld on table \"%s\" matches nothing: %s",
							(long long) subs[i]->id, relname, error)));
		else
			set->nsubs++;
	}
	collect_columns(set, columns, desc->natts);
	return set;
}

const RowView *
probe_change(const CompiledSet *compiled, uint8 kind, HeapTuple newtuple, HeapTuple oldtuple,
			 TupleDesc desc, const RelationShape *shape)
{
	RowView    *newrow = const_cast<RowView *>(&compiled->probe_new);
	RowView    *oldrow = const_cast<RowView *>(&compiled->probe_old);

	/* An INSERT has no old row; the others need it (DELETE to filter, UPDATE for TOAST). */
	if (kind != ACTION_INSERT)
		row_view_columns(oldrow, oldtuple, desc, shape, true, compiled->columns,
						 compiled->ncolumns);
	if (kind == ACTION_DELETE)
		return oldrow;
	row_view_columns(newrow, newtuple, desc, shape, false, compiled->columns, compiled->ncolumns);
	if (kind == ACTION_UPDATE)
		row_view_take_unchanged_toast(newrow, oldrow);
	return newrow;
}

/* ---- phase 2: pure C++ ---- */

RelationIndex::RelationIndex(MemoryContext memory, const CompiledSet *compiled)
	: memory_(memory), compiled_(compiled), subs_(compiled->subs)
{
	/* Per anchored attribute, (hash << 32 | position) of every anchored value. */
	std::vector<std::pair<const ColumnOps *, std::vector<uint64_t>>> columns;

	for (int i = 0; i < compiled->nsubs; i++)
	{
		const CompiledSubscription &sub = compiled->subs[i];

		if (sub.anchor < 0)
		{
			unanchored_.push_back(static_cast<uint32_t>(i));
			continue;
		}
		const ColumnOps *column = sub.filters[sub.anchor].column;
		size_t		c = 0;

		while (c < columns.size() && columns[c].first != column)
			c++;
		if (c == columns.size())
			columns.emplace_back(column, std::vector<uint64_t>());
		for (int h = 0; h < sub.nhashes; h++)
			columns[c].second.push_back((uint64_t(sub.hashes[h]) << 32) | uint32_t(i));
	}

	/* Sorting groups the values per hash, in subscription (position) order within. */
	std::vector<std::pair<uint32_t, uint32_t>> sorted;

	for (auto &column : columns)
	{
		std::sort(column.second.begin(), column.second.end());
		sorted.clear();
		sorted.reserve(column.second.size());
		for (uint64_t key : column.second)
			sorted.emplace_back(uint32_t(key >> 32), uint32_t(key));
		anchors_.push_back(Anchor{column.first, HashBuckets(sorted)});
	}
}

/* ---- matching: plain data; the Postgres calls are the types' hash and comparison ---- */

void
RelationIndex::check(const CompiledSubscription &sub, uint8 kind, const RowView *row,
					 std::vector<Match> *out) const
{
	if (!(sub.actions & kind))
		return;
	for (int f = 0; f < sub.nfilters; f++)
	{
		const CompiledFilter *filter = &sub.filters[f];
		int			att = filter->column->attnum - 1;

		/* A value the change does not carry matches nothing (NULL may: is null). */
		if (att >= row->natts || !row->present[att])
			return;
		if (!filter_holds(filter, row->isnull[att], row->values[att]))
			return;
	}
	out->push_back(Match{sub.node, sub.id});
}

void
RelationIndex::match(uint8 kind, const RowView *row, std::vector<Match> *out) const
{
	/* A missing tuple (no replica identity) has no present value: only filterless match. */
	for (const Anchor &anchor : anchors_)
	{
		int			att = anchor.column->attnum - 1;

		if (att >= row->natts || !row->present[att] || row->isnull[att])
			continue;

		uint32_t	count;
		const uint32_t *positions = anchor.buckets.find(column_hash(anchor.column,
																   row->values[att]),
														&count);

		for (uint32_t k = 0; k < count; k++)
			check(subs_[positions[k]], kind, row, out);
	}
	for (uint32_t position : unanchored_)
		check(subs_[position], kind, row, out);
}
