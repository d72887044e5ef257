/*
 * change_recipients.cpp: a change's matches as the document's recipients (see
 * change_recipients.h).
 */
#include "change_recipients.h"
#include "row_writer.h"

#include <algorithm>

void
order_recipients(std::vector<Match> *matches, bool dedupe)
{
	if (dedupe && matches->size() > 1)
	{
		/* Per subscription, the delivering entry (check 0) sorts first and is kept. */
		std::sort(matches->begin(), matches->end(), [](const Match &a, const Match &b) {
			if (a.node != b.node)
				return a.node < b.node;
			return a.id != b.id ? a.id < b.id : a.check < b.check;
		});
		matches->erase(std::unique(matches->begin(), matches->end(),
								   [](const Match &a, const Match &b) {
									   return a.node == b.node && a.id == b.id;
								   }),
					   matches->end());
	}
	std::sort(matches->begin(), matches->end(), match_order);
}

static bool
check_possible(const PolicyCheck *check, const RowView *row)
{
	if (!row->exists)
		return false;
	if (check->needs_all)
	{
		for (int i = 0; i < row->natts; i++)
		{
			if (!row->present[i] && !row->isnull[i])
				return false;
		}
		return true;
	}
	for (int k = 0; k < check->nneeds; k++)
	{
		int			att = check->needs[k] - 1;

		if (att >= row->natts || !row->present[att])
			return false;
	}
	return true;
}

/* The row as its type's record text; values it does not carry are NULL (unread). */
static const char *
record_text(const RowView *row, TupleDesc desc)
{
	Datum	   *values = (Datum *) palloc(sizeof(Datum) * Max(desc->natts, 1));
	bool	   *nulls = (bool *) palloc(sizeof(bool) * Max(desc->natts, 1));
	HeapTuple	tuple;

	for (int i = 0; i < desc->natts; i++)
	{
		nulls[i] = i >= row->natts || !row->present[i] || row->isnull[i];
		values[i] = nulls[i] ? (Datum) 0 : row->values[i];
	}
	tuple = heap_form_tuple(desc, values, nulls);
	return OidOutputFunctionCall(F_RECORD_OUT, heap_copy_tuple_as_datum(tuple, desc));
}

const char *
prepare_checks(const CompiledSet *compiled, const RowView *row, TupleDesc desc, Match *matches,
			   int *nmatches)
{
	int			kept = 0;
	bool		candidates = false;

	for (int i = 0; i < *nmatches; i++)
	{
		uint16		check = matches[i].check;

		if (check != 0 && !check_possible(compiled->checks[check - 1], row))
			continue;
		candidates |= check != 0;
		matches[kept++] = matches[i];
	}
	*nmatches = kept;
	return candidates ? record_text(row, desc) : NULL;
}

void
order_failures(FailedSubscription *failed, int nfailed)
{
	std::sort(failed, failed + nfailed, [](const FailedSubscription &a, const FailedSubscription &b) {
		return a.node != b.node ? a.node < b.node : a.id < b.id;
	});
}
