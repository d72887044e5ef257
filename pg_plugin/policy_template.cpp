/*
 * policy_template.cpp: building a role's template (see policy_template.h): the access
 * of role_access.h, the qual normalized (policy_normalize.h), classified into atoms
 * (policy_dnf.h), and the general path's check when something stays residual
 * (policy_check.h).
 */
#include "policy_template.h"
#include "policy_check.h"
#include "policy_dnf.h"
#include "policy_normalize.h"
#include "role_access.h"

static bool
has_residual(const PolicyTemplate *t)
{
	for (int d = 0; d < t->ndisjuncts; d++)
	{
		if (t->disjuncts[d].residual)
			return true;
	}
	return false;
}

PolicyTemplate *
policy_template_build(Relation rel, Oid access_relid, const char *role_name)
{
	PolicyTemplate *t = (PolicyTemplate *) palloc0(sizeof(PolicyTemplate));
	RoleAccess	access;
	Node	   *qual;

	t->role = pstrdup(role_name);
	role_access_read(rel, access_relid, role_name, &access);
	if (access.denied)
	{
		t->denied = access.denied;
		t->denied_schema = access.denied_schema;
		return t;
	}
	t->natts = access.natts;
	t->visible = access.visible;
	t->all_visible = access.all_visible;
	t->rls = access.rls;
	/* No row level security, or no permissive policy (no row: no disjunct). */
	if (!access.rls || access.qual == NULL)
		return t;

	qual = policy_normalize((Node *) access.qual, access.roleid);
	t->denied = policy_check_execute(qual, access.roleid);
	if (t->denied)
		return t;
	policy_to_dnf(policy_fold(policy_bind_settings(qual, role_name), access.roleid), rel, t);
	if (has_residual(t))
		t->check = policy_check_build(t, rel);
	return t;
}
