/*
 * row_view.h: one decoded tuple as the filters and the writer see it.
 *
 * Owns the rules for which values of a change are known: dropped columns are absent;
 * an old tuple carries only the replica identity's columns (all under FULL); an
 * unchanged TOASTed value in a new tuple (VARATT_IS_EXTERNAL_ONDISK, which must never
 * be detoasted) is taken from the old tuple when that carries it and is absent
 * otherwise. A filter on an absent column does not match; the writer leaves absent
 * columns out. Plain code; arrays are palloc'd in the per-change memory context.
 */
#ifndef PG_REALTIME_ROW_VIEW_H
#define PG_REALTIME_ROW_VIEW_H

#include "pg_headers.h"
#include "relation_shape.h"

struct RowView
{
	bool		exists;			/* false: the change has no such tuple */
	int			natts;
	Datum	   *values;
	bool	   *isnull;
	bool	   *present;		/* the value is known (see above) */
};

/* A new tuple (INSERT, UPDATE); tuple may be NULL. */
void		row_view_new(RowView *row, HeapTuple tuple, TupleDesc desc,
						 const RelationShape *shape);

/* An old tuple (UPDATE, DELETE), carrying the replica identity's columns; may be NULL. */
void		row_view_old(RowView *row, HeapTuple tuple, TupleDesc desc,
						 const RelationShape *shape);

/*
 * Only the listed attributes of a tuple (old_tuple: an old tuple's rules), written into
 * the row's own arrays (natts long, zeroed when allocated); the others stay absent.
 * For matching, which needs a few columns of every change.
 */
void		row_view_columns(RowView *row, HeapTuple tuple, TupleDesc desc,
							 const RelationShape *shape, bool old_tuple,
							 const AttrNumber *columns, int ncolumns);

/* Fills the new row's unchanged TOAST values from the old row where it has them. */
void		row_view_take_unchanged_toast(RowView *newrow, const RowView *oldrow);

/*
 * The old row of an UPDATE that logged none (replica identity DEFAULT or INDEX and an
 * unchanged key): the identity columns, whose values the new row shares.
 */
void		row_view_identity_of(RowView *oldrow, const RowView *newrow,
								 const RelationShape *shape);

#endif
