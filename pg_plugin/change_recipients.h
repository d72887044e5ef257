/*
 * change_recipients.h: who receives a change, as its document tells the relay.
 *
 * Owns turning a change's raw matches into the document's recipients: one match per
 * subscription (an entry that delivers wins over a candidate's), in the writer's order
 * (match_order); candidates whose check reads a value the change does not carry (an
 * unchanged TOASTed column the WAL left out) dropped, since a check that cannot be made
 * delivers nothing; and the checked row's record text (record_out of the row image,
 * exact for every type), which the relay passes to realtime.check_rows.
 */
#ifndef PG_REALTIME_CHANGE_RECIPIENTS_H
#define PG_REALTIME_CHANGE_RECIPIENTS_H

#include "pg_headers.h"
#include "row_view.h"
#include "subscription_index.h"

#include <vector>

/* Pure C++: deduplicates (when entries can repeat a subscription) and orders matches. */
void		order_recipients(std::vector<Match> *matches, bool dedupe);

/*
 * Plain: drops the candidates whose check cannot be made on row, compacting
 * matches[0..*nmatches) in place, and returns the record text of row if a candidate is
 * left (NULL otherwise).
 */
const char *prepare_checks(const CompiledSet *compiled, const RowView *row, TupleDesc desc,
						   Match *matches, int *nmatches);

/* Pure C++: orders failures by node for the writer. */
void		order_failures(FailedSubscription *failed, int nfailed);

#endif
