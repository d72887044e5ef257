/*
 * subscription_index.cpp: the compiled index of a relation and matching rows against it
 * (see subscription_index.h; compiling is subscription_compile.cpp).
 */
#include "subscription_index.h"
#include <algorithm>

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
			/* Listed under each kind of change it wants, so others never look at it. */
			for (int k = 0; k < 3; k++)
			{
				if (sub.actions & (1 << k))
					unanchored_[k].push_back(static_cast<uint32_t>(i));
			}
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
	out->push_back(Match{sub.node, sub.id, sub.view, sub.check});
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
	for (uint32_t position : unanchored_[kind_slot(kind)])
		check(subs_[position], kind, row, out);
}
