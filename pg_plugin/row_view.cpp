/*
 * row_view.cpp: decoded tuples with the knowledge of which values are known (see
 * row_view.h). Plain code only.
 */
#include "row_view.h"

static bool
is_unchanged_toast(const RowView *row, int i, const RelationShape *shape)
{
	return !row->isnull[i] && shape->columns[i].typlen == -1 &&
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(row->values[i]));
}

static void
deform(RowView *row, HeapTuple tuple, TupleDesc desc, const RelationShape *shape)
{
	/* The shape and the descriptor come from the same relcache entry. */
	int			natts = Min(desc->natts, shape->natts);

	row->natts = natts;
	row->values = (Datum *) palloc(sizeof(Datum) * Max(desc->natts, 1));
	row->isnull = (bool *) palloc(sizeof(bool) * Max(desc->natts, 1));
	row->present = (bool *) palloc0(sizeof(bool) * Max(natts, 1));
	row->exists = tuple != NULL;
	if (tuple == NULL)
		return;
	heap_deform_tuple(tuple, desc, row->values, row->isnull);
}

void
row_view_new(RowView *row, HeapTuple tuple, TupleDesc desc, const RelationShape *shape)
{
	deform(row, tuple, desc, shape);
	if (!row->exists)
		return;
	for (int i = 0; i < row->natts; i++)
		row->present[i] = !shape->columns[i].dropped && !is_unchanged_toast(row, i, shape);
}

void
row_view_old(RowView *row, HeapTuple tuple, TupleDesc desc, const RelationShape *shape)
{
	deform(row, tuple, desc, shape);
	if (!row->exists)
		return;
	for (int i = 0; i < row->natts; i++)
		row->present[i] = shape->columns[i].in_identity && !is_unchanged_toast(row, i, shape);
}

void
row_view_columns(RowView *row, HeapTuple tuple, TupleDesc desc, const RelationShape *shape,
				 bool old_tuple, const AttrNumber *columns, int ncolumns)
{
	row->exists = tuple != NULL;
	for (int c = 0; c < ncolumns; c++)
	{
		int			i = columns[c] - 1;
		const OutputColumn *col;

		/* The columns come from the same relcache version as the arrays and shape. */
		if (i >= row->natts || i >= shape->natts)
			continue;
		col = &shape->columns[i];
		if (tuple == NULL)
		{
			row->present[i] = false;
			continue;
		}
		/* heap_getattr uses cached offsets: cheap for the leading fixed-width columns. */
		row->values[i] = heap_getattr(tuple, i + 1, desc, &row->isnull[i]);
		row->present[i] = !col->dropped && (!old_tuple || col->in_identity) &&
			!is_unchanged_toast(row, i, shape);
	}
}

void
row_view_take_unchanged_toast(RowView *newrow, const RowView *oldrow)
{
	if (!newrow->exists || !oldrow->exists)
		return;
	for (int i = 0; i < newrow->natts; i++)
	{
		if (newrow->present[i] || newrow->isnull[i] || !oldrow->present[i])
			continue;
		/* Only unchanged TOAST values are absent from a new tuple with a value. */
		if (!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(newrow->values[i])))
			continue;
		newrow->values[i] = oldrow->values[i];
		newrow->isnull[i] = oldrow->isnull[i];
		newrow->present[i] = true;
	}
}

void
row_view_identity_of(RowView *oldrow, const RowView *newrow, const RelationShape *shape)
{
	oldrow->exists = newrow->exists;
	oldrow->natts = newrow->natts;
	oldrow->values = newrow->values;
	oldrow->isnull = newrow->isnull;
	oldrow->present = (bool *) palloc0(sizeof(bool) * Max(newrow->natts, 1));
	for (int i = 0; i < newrow->natts; i++)
		oldrow->present[i] = newrow->present[i] && shape->columns[i].in_identity;
}
