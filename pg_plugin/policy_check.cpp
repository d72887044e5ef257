/*
 * policy_check.cpp: the SQL of a general-path check (see policy_check.h).
 */
#include "policy_check.h"
#include "tree_walk.h"

/* A range table entry that deparses as alias.column without opening a relation. */
static RangeTblEntry *
named_columns(const char *alias, List *colnames)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_VALUES;
	rte->alias = makeAlias(alias, colnames);
	rte->eref = rte->alias;
	rte->inFromCl = true;
	return rte;
}

/* Column names by attribute number; a dropped column is "" (ruleutils skips it). */
static List *
relation_colnames(TupleDesc desc)
{
	List	   *names = NIL;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		names = lappend(names, makeString(pstrdup(att->attisdropped ? "" : NameStr(att->attname))));
	}
	return names;
}

static char *
deparse_qual(Node *qual, Relation rel)
{
	PlannedStmt *statement = makeNode(PlannedStmt);
	List	   *user_columns = list_make3(makeString(pstrdup("claims")), makeString(pstrdup("sub")),
										  makeString(pstrdup("role")));
	List	   *context;
	OverrideSearchPath *path = (OverrideSearchPath *) palloc0(sizeof(OverrideSearchPath));
	char	   *text;

	statement->rtable = list_make2(named_columns("realtime_row", relation_colnames(RelationGetDescr(rel))),
								   named_columns("realtime_user", user_columns));
	context = deparse_context_for_plan_tree(statement,
											list_make2(pstrdup("realtime_row"),
													   pstrdup("realtime_user")));
	context = set_deparse_context_plan(context, (Plan *) makeNode(Result), NIL);

	/* Only pg_catalog in the path: every other name comes out schema-qualified. */
	path->addCatalog = true;
	PushOverrideSearchPath(path);
	text = deparse_expression(qual, context, true, false);
	PopOverrideSearchPath();
	return text;
}

/* ---- what the check reads ---- */

struct ReadsContext
{
	int			level;
	bool		per_user;
	bool		needs_all;
	Bitmapset  *needs;
};

/* Relations whose reading applies rules the plugin cannot see: views, policies. */
static bool
hides_settings(const RangeTblEntry *rte)
{
	HeapTuple	tuple;
	bool		rls;

	if (rte->rtekind != RTE_RELATION)
		return false;
	if (rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_PARTITIONED_TABLE)
		return true;
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(rte->relid));
	if (!HeapTupleIsValid(tuple))
		return true;
	rls = ((Form_pg_class) GETSTRUCT(tuple))->relrowsecurity;
	ReleaseSysCache(tuple);
	return rls;
}

static bool
user_function(Oid funcid, void *context)
{
	return funcid >= FirstNormalObjectId;
}

/* current_setting(name) with a name known only at run time: it may be a claim. */
static bool
reads_any_setting(Node *node)
{
	FuncExpr   *call = (FuncExpr *) node;

	return IsA(node, FuncExpr) &&
		(call->funcid == F_CURRENT_SETTING_TEXT || call->funcid == F_CURRENT_SETTING_TEXT_BOOL) &&
		!IsA(linitial(call->args), Const);
}

static bool
reads_walker(Node *node, ReadsContext *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var) && ((Var *) node)->varno == 1 &&
		(int) ((Var *) node)->varlevelsup == context->level)
	{
		if (((Var *) node)->varattno <= 0)
			context->needs_all = true;
		else
			context->needs = bms_add_member(context->needs, ((Var *) node)->varattno);
		return false;
	}
	if (IsA(node, Query))
	{
		ListCell   *cell;
		bool		result;

		foreach(cell, ((Query *) node)->rtable)
			context->per_user |= hides_settings((RangeTblEntry *) lfirst(cell));
		context->level++;
		result = query_tree_walker((Query *) node, as_walker(reads_walker), context, 0);
		context->level--;
		return result;
	}
	if (reads_any_setting(node) || check_functions_in_node(node, user_function, NULL))
		context->per_user = true;
	return expression_tree_walker(node, as_walker(reads_walker), context);
}

PolicyCheck *
policy_check_build(Node *qual, Relation rel)
{
	PolicyCheck *check = (PolicyCheck *) palloc0(sizeof(PolicyCheck));
	ReadsContext context = {0, false, false, NULL};
	int			attnum = -1;

	reads_walker(qual, &context);
	check->qual = deparse_qual(qual, rel);
	check->per_user = context.per_user;
	check->needs_all = context.needs_all;
	check->needs = (AttrNumber *) palloc(sizeof(AttrNumber) * Max(bms_num_members(context.needs), 1));
	while ((attnum = bms_next_member(context.needs, attnum)) >= 0)
		check->needs[check->nneeds++] = (AttrNumber) attnum;
	return check;
}
