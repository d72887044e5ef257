/*
 * subscription_access.cpp: templates and claim values of a relation's subscriptions (see
 * subscription_access.h).
 */
#include "subscription_access.h"
#include "relation_cache.h"
#include "subtransaction.h"

static PolicyTemplate *
find_template(const RelationEntry *entry, Oid access_relid, const char *role)
{
	for (int i = 0; i < entry->ntemplates; i++)
	{
		const TemplateSlot *slot = &entry->templates[i];

		if (slot->access_relid == access_relid && strcmp(slot->role, role) == 0)
			return slot->policy;
	}
	return NULL;
}

struct BuildArgs
{
	Relation	rel;
	Oid			access_relid;
	const char *role;
	PolicyTemplate *result;
};

static void
build_work(void *arg)
{
	BuildArgs  *args = (BuildArgs *) arg;

	args->result = policy_template_build(args->rel, args->access_relid, args->role);
}

/* Builds and caches the template; one that cannot be built denies with the error. */
static PolicyTemplate *
add_template(RelationEntry *entry, Relation rel, Oid access_relid, const char *role)
{
	MemoryContext old = MemoryContextSwitchTo(entry->memory);
	BuildArgs	args = {rel, access_relid, pstrdup(role), NULL};
	const char *error = run_in_subtransaction(build_work, &args);

	if (error)
	{
		args.result = (PolicyTemplate *) palloc0(sizeof(PolicyTemplate));
		args.result->role = args.role;
		args.result->denied = error;
		ereport(WARNING,
				(errmsg("pg_realtime: the policies of table \"%s\" could not be compiled for role \"%s\": %s",
						RelationGetRelationName(rel), role, error)));
	}
	if (entry->ntemplates == entry->template_capacity)
	{
		entry->template_capacity = Max(4, entry->template_capacity * 2);
		entry->templates = entry->templates
			? (TemplateSlot *) repalloc(entry->templates, sizeof(TemplateSlot) * entry->template_capacity)
			: (TemplateSlot *) palloc(sizeof(TemplateSlot) * entry->template_capacity);
	}
	entry->templates[entry->ntemplates++] = TemplateSlot{access_relid, args.role, args.result};
	MemoryContextSwitchTo(old);
	return args.result;
}

/* The claim values of the subscribers of t (access[i].policy == t). */
static void
evaluate_claims(const PolicyTemplate *t, const Subscription *const *subs,
				SubscriptionAccess *access, int n)
{
	const SubscriptionUser **users = (const SubscriptionUser **) palloc(sizeof(void *) * n);
	int		   *positions = (int *) palloc(sizeof(int) * n);
	ClaimValues *values;
	int			m = 0;

	for (int i = 0; i < n; i++)
	{
		if (access[i].policy != t)
			continue;
		users[m] = &subs[i]->user;
		positions[m++] = i;
	}
	values = (ClaimValues *) palloc(sizeof(ClaimValues) * Max(m, 1));
	claims_evaluate(t, users, m, values);
	for (int k = 0; k < m; k++)
		access[positions[k]].claims = &values[k];
}

const SubscriptionAccess *
subscription_access_resolve(RelationEntry *entry, Relation rel, const Subscription *const *subs,
							int n)
{
	SubscriptionAccess *access = (SubscriptionAccess *) palloc0(sizeof(SubscriptionAccess) * n);

	for (int i = 0; i < n; i++)
	{
		Oid			access_relid = subs[i]->relid != 0 ? subs[i]->relid : RelationGetRelid(rel);
		const char *role = subs[i]->user.role.c_str();
		PolicyTemplate *t = find_template(entry, access_relid, role);

		access[i].policy = t ? t : add_template(entry, rel, access_relid, role);
	}
	for (int j = 0; j < entry->ntemplates; j++)
	{
		if (entry->templates[j].policy->nparams > 0)
			evaluate_claims(entry->templates[j].policy, subs, access, n);
	}
	return access;
}
