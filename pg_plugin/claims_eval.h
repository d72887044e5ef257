/*
 * claims_eval.h: a template's claim expressions, evaluated for each of its subscribers.
 *
 * Owns the per-subscriber half of compiling policies: the claim expressions (e.g.
 * auth.uid() inlined: the claims' "sub" cast to uuid) are prepared once, then evaluated
 * with each subscriber's settings as the Params. 10 000 subscribers cost 10 000 small
 * evaluations. A subscriber whose claims make an expression raise (a "sub" that is not a
 * uuid) fails alone: evaluation runs in subtransactions, one for all subscribers at first,
 * split in halves around the failures, so that a batch without failures costs one.
 * Plain code.
 */
#ifndef PG_REALTIME_CLAIMS_EVAL_H
#define PG_REALTIME_CLAIMS_EVAL_H

#include "policy_template.h"

struct ClaimValues
{
	const char *error;			/* the evaluation raised this: the subscriber fails */
	Datum	   *values;			/* per claim expression of the template */
	bool	   *isnull;
};

/* Evaluates t's claim expressions for users[0..n) into out[0..n) (CurrentMemoryContext). */
void		claims_evaluate(const PolicyTemplate *t, const SubscriptionUser *const *users, int n,
							ClaimValues *out);

#endif
