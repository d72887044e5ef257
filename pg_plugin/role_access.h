/*
 * role_access.h: what a role may read of a relation, under the catalog of a change.
 *
 * Owns the privilege and policy side of design 3.6, decided exactly as a SELECT by that
 * role would be, with the catalog as the decoder sees it at the change (its historic
 * snapshot), so that GRANT, REVOKE, ENABLE/FORCE ROW LEVEL SECURITY, policy and role
 * changes apply from their commit on:
 *   - the role exists; it has USAGE on the relation's schema;
 *   - the columns it may SELECT (the table privilege, else column privileges); none is
 *     "permission denied";
 *   - whether row level security applies to it (enabled, and the role is not a
 *     superuser, BYPASSRLS, or an owner, by membership too, of a table not FORCEd);
 *   - if so, its SELECT policies (FOR SELECT or ALL, TO PUBLIC or a role it has the
 *     privileges of) combined as Postgres does: permissive ones ORed, restrictive ones
 *     ANDed, none permissive: no row.
 * The access relation is the one the user named (a partitioned table when its
 * partition's change is decoded, or the change's own relation); the result is expressed
 * in the change relation's attribute numbers. Plain code (see pg_guard.h), that may
 * raise an ERROR: callers run it in a subtransaction.
 */
#ifndef PG_REALTIME_ROLE_ACCESS_H
#define PG_REALTIME_ROLE_ACCESS_H

#include "pg_headers.h"

struct RoleAccess
{
	Oid			roleid;
	/* Why the role can read nothing (the rest is unset); NULL when it can. */
	const char *denied;
	/* The denial holds for every table of the schema (no such role, no USAGE). */
	bool		denied_schema;
	int			natts;			/* of the change relation */
	bool	   *visible;		/* per attribute: the role may SELECT it */
	bool		all_visible;	/* every live attribute is */
	bool		rls;			/* row level security applies to the role */
	/* rls: the combined policies over the change relation (varno 1); NULL: no row. */
	Expr	   *qual;
};

/* Fills *out for role_name reading access_relid, as seen from change relation rel. */
void		role_access_read(Relation rel, Oid access_relid, const char *role_name,
							 RoleAccess *out);

#endif
