/*
 * role_access.cpp: the privileges and policies a role reads a relation with (see
 * role_access.h). Plain code: every lookup goes through the catalog caches, which follow
 * the decoder's historic snapshot.
 */
#include "role_access.h"
#include "tree_walk.h"

/* Column privileges, per attribute of the change relation, matched by name. */
static void
read_visible_columns(Relation rel, Oid access_relid, RoleAccess *out)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool		same = RelationGetRelid(rel) == access_relid;
	bool		table_select = pg_class_aclcheck(access_relid, out->roleid, ACL_SELECT) == ACLCHECK_OK;
	bool		any = false;

	out->natts = desc->natts;
	out->visible = (bool *) palloc0(sizeof(bool) * Max(desc->natts, 1));
	out->all_visible = true;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AttrNumber	attnum;

		if (att->attisdropped)
			continue;
		attnum = same ? att->attnum : get_attnum(access_relid, NameStr(att->attname));
		out->visible[i] = attnum != InvalidAttrNumber &&
			(table_select ||
			 pg_attribute_aclcheck(access_relid, attnum, out->roleid, ACL_SELECT) == ACLCHECK_OK);
		any |= out->visible[i];
		out->all_visible &= out->visible[i];
	}
	if (!any)
		out->denied = psprintf("permission denied for table %s", get_rel_name(access_relid));
}

/* check_enable_rls for another role, with row_security on (as the relay's queries are). */
static bool
row_security_applies(Relation access, Oid roleid)
{
	if (!access->rd_rel->relrowsecurity)
		return false;
	if (has_bypassrls_privilege(roleid))	/* superusers too */
		return false;
	if (pg_class_ownercheck(RelationGetRelid(access), roleid))
		return access->rd_rel->relforcerowsecurity;
	return true;
}

static bool
policy_applies_to(const RowSecurityPolicy *policy, Oid roleid)
{
	ArrayType  *roles = policy->roles;
	const Oid  *oids = (const Oid *) ARR_DATA_PTR(roles);

	if (policy->polcmd != '*' && policy->polcmd != ACL_SELECT_CHR)
		return false;
	if (oids[0] == ACL_ID_PUBLIC)
		return true;
	for (int i = 0; i < ARR_DIMS(roles)[0]; i++)
	{
		if (has_privs_of_role(roleid, oids[i]))
			return true;
	}
	return false;
}

/* The SELECT policies of access that apply to roleid, combined (add_security_quals). */
static Expr *
combine_policies(Relation access, Oid roleid)
{
	List	   *permissive = NIL;
	List	   *restrictive = NIL;
	ListCell   *cell;

	if (access->rd_rsdesc == NULL)
		return NULL;
	foreach(cell, access->rd_rsdesc->policies)
	{
		RowSecurityPolicy *policy = (RowSecurityPolicy *) lfirst(cell);

		/* A policy with only WITH CHECK has no USING qual: it grants no read. */
		if (policy->qual == NULL || !policy_applies_to(policy, roleid))
			continue;
		if (policy->permissive)
			permissive = lappend(permissive, copy_node(policy->qual));
		else
			restrictive = lappend(restrictive, copy_node(policy->qual));
	}
	if (permissive == NIL)
		return NULL;
	restrictive = lappend(restrictive, list_length(permissive) == 1
						  ? linitial(permissive)
						  : makeBoolExpr(OR_EXPR, permissive, -1));
	return list_length(restrictive) == 1 ? (Expr *) linitial(restrictive)
		: makeBoolExpr(AND_EXPR, restrictive, -1);
}

/* Vars of the access relation renumbered to the change relation (a partition). */
static Expr *
map_to_change_relation(Expr *qual, Relation rel, Relation access)
{
	AttrMap    *map;
	bool		found_whole_row;

	if (qual == NULL || RelationGetRelid(rel) == RelationGetRelid(access))
		return qual;
	map = build_attrmap_by_name(RelationGetDescr(rel), RelationGetDescr(access));
	return (Expr *) map_variable_attnos((Node *) qual, 1, 0, map, rel->rd_rel->reltype,
										&found_whole_row);
}

void
role_access_read(Relation rel, Oid access_relid, const char *role_name, RoleAccess *out)
{
	Relation	access;

	memset(out, 0, sizeof(*out));
	out->roleid = get_role_oid(role_name, true);
	if (!OidIsValid(out->roleid))
	{
		out->denied = psprintf("role \"%s\" does not exist", role_name);
		out->denied_schema = true;
		return;
	}
	if (pg_namespace_aclcheck(get_rel_namespace(access_relid), out->roleid, ACL_USAGE) != ACLCHECK_OK)
	{
		out->denied = psprintf("permission denied for schema %s",
							   get_namespace_name(get_rel_namespace(access_relid)));
		out->denied_schema = true;
		return;
	}
	read_visible_columns(rel, access_relid, out);
	if (out->denied)
		return;

	access = RelationGetRelid(rel) == access_relid ? rel : RelationIdGetRelation(access_relid);
	if (!RelationIsValid(access))
		elog(ERROR, "could not open relation with OID %u", access_relid);
	out->rls = row_security_applies(access, out->roleid);
	if (out->rls)
		out->qual = map_to_change_relation(combine_policies(access, out->roleid), rel, access);
	if (access != rel)
		RelationClose(access);
}
