/*
 * policy_check.cpp: the SQL of a general-path check (see policy_check.h).
 */
#include "policy_check.h"
#include "policy_normalize.h"
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

/* ---- IN (sub-select) as EXISTS ---- */

/* A sub-select a condition can be added to without changing which rows it returns. */
static bool
plain_select(const Query *query)
{
	return query->commandType == CMD_SELECT && query->setOperations == NULL &&
		!query->hasAggs && !query->hasWindowFuncs && !query->hasTargetSRFs &&
		query->groupClause == NIL && query->groupingSets == NIL &&
		query->havingQual == NULL && query->limitCount == NULL &&
		query->limitOffset == NULL && query->jointree != NULL &&
		list_length(query->targetList) == 1;
}

/*
 * x op ANY (SELECT e FROM f WHERE w) as EXISTS (SELECT e FROM f WHERE w AND x op e), or
 * NULL when the sub-select is not plain or the test not x op (the sub-select's column).
 */
static Node *
in_as_exists(SubLink *sublink)
{
	Query	   *query;
	OpExpr	   *test = (OpExpr *) sublink->testexpr;
	Node	   *outer;
	Node	   *param;
	OpExpr	   *condition;

	if (sublink->subLinkType != ANY_SUBLINK || !IsA(sublink->subselect, Query) ||
		test == NULL || !IsA(test, OpExpr) || list_length(test->args) != 2)
		return NULL;
	query = copy_node((Query *) sublink->subselect);
	outer = (Node *) linitial(test->args);
	param = (Node *) lsecond(test->args);
	if (!plain_select(query) || !IsA(param, Param) ||
		((Param *) param)->paramkind != PARAM_SUBLINK)
		return NULL;
	/* The outer expression moves into the sub-select: one level deeper. */
	outer = (Node *) copy_node((Expr *) outer);
	IncrementVarSublevelsUp(outer, 1, 0);
	condition = copy_node(test);
	condition->args = list_make2(outer, copy_node(((TargetEntry *) linitial(query->targetList))->expr));
	query->jointree->quals = query->jointree->quals
		? (Node *) makeBoolExpr(AND_EXPR, list_make2(query->jointree->quals, condition), -1)
		: (Node *) condition;
	SubLink    *exists = makeNode(SubLink);

	exists->subLinkType = EXISTS_SUBLINK;
	exists->subselect = (Node *) query;
	exists->location = -1;
	return (Node *) exists;
}

/* The disjunct's top-level AND, with its IN sub-selects as EXISTS. */
static Node *
semi_joinable(Node *disjunct)
{
	List	   *conditions = is_andclause(disjunct) ? ((BoolExpr *) disjunct)->args
		: list_make1(disjunct);
	List	   *result = NIL;
	ListCell   *cell;

	foreach(cell, conditions)
	{
		Node	   *condition = (Node *) lfirst(cell);
		Node	   *exists = IsA(condition, SubLink) ? in_as_exists((SubLink *) condition) : NULL;

		result = lappend(result, exists ? exists : condition);
	}
	return list_length(result) == 1 ? (Node *) linitial(result)
		: (Node *) makeBoolExpr(AND_EXPR, result, -1);
}

PolicyCheck *
policy_check_build(const PolicyTemplate *t, Relation rel)
{
	PolicyCheck *check = (PolicyCheck *) palloc0(sizeof(PolicyCheck));
	ReadsContext context = {0, false, false, NULL};
	int			attnum = -1;

	check->quals = (const char **) palloc(sizeof(char *) * Max(t->ndisjuncts, 1));
	for (int d = 0; d < t->ndisjuncts; d++)
	{
		Node	   *qual;

		if (!t->disjuncts[d].residual)
			continue;
		qual = semi_joinable(policy_params_as_user_columns(t->disjuncts[d].qual));
		reads_walker(qual, &context);
		check->quals[check->nquals++] = deparse_qual(qual, rel);
	}
	check->per_user = context.per_user;
	check->needs_all = context.needs_all;
	check->needs = (AttrNumber *) palloc(sizeof(AttrNumber) * Max(bms_num_members(context.needs), 1));
	while ((attnum = bms_next_member(context.needs, attnum)) >= 0)
		check->needs[check->nneeds++] = (AttrNumber) attnum;
	return check;
}
