/*
 * subscription_access.h: each subscription's access to the relation being compiled.
 *
 * Owns the step between the raw subscriptions and their compiled entries: finding the
 * policy template of each subscription's (access relation, role), building the missing
 * ones in a subtransaction each (an ERROR fails that role's subscribers on this
 * relation, with its message, and nothing else), caching them in the relation's entry,
 * and evaluating their claim expressions for their subscribers (claims_eval.h). The
 * access relation is the table a binding names, or the change's own relation for a
 * whole-schema binding. Plain code; results in CurrentMemoryContext, templates in the
 * entry's memory.
 */
#ifndef PG_REALTIME_SUBSCRIPTION_ACCESS_H
#define PG_REALTIME_SUBSCRIPTION_ACCESS_H

#include "claims_eval.h"
#include "policy_template.h"

struct RelationEntry;

struct SubscriptionAccess
{
	const PolicyTemplate *policy;	/* never NULL */
	const ClaimValues *claims;	/* NULL when the template has no claim expression */
};

const SubscriptionAccess *subscription_access_resolve(RelationEntry *entry, Relation rel,
													  const Subscription *const *subs, int n);

#endif
