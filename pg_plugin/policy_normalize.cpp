/*
 * policy_normalize.cpp: rewriting a policy qual for one role (see policy_normalize.h).
 */
#include "policy_normalize.h"
#include "policy_template.h"
#include "tree_walk.h"

/* ---- normalizing ---- */

/* SELECT <one expression>, with nothing else: it yields exactly one row, that value. */
static Expr *
single_row_value(Query *query)
{
	TargetEntry *target;

	if (query->commandType != CMD_SELECT || query->rtable != NIL || query->cteList != NIL ||
		query->jointree == NULL || query->jointree->fromlist != NIL ||
		query->jointree->quals != NULL || query->hasAggs || query->hasWindowFuncs ||
		query->hasTargetSRFs || query->groupClause != NIL || query->groupingSets != NIL ||
		query->havingQual != NULL || query->distinctClause != NIL ||
		query->limitOffset != NULL || query->limitCount != NULL ||
		query->setOperations != NULL || list_length(query->targetList) != 1)
		return NULL;
	target = (TargetEntry *) linitial(query->targetList);
	if (target->resjunk)
		return NULL;
	return target->expr;
}

struct SublinkValue
{
	Node	   *value;
};

/* The PARAM_SUBLINK of an ANY sub-select's test, replaced by the sub-select's value. */
static Node *
replace_sublink_param(Node *node, SublinkValue *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_SUBLINK &&
		((Param *) node)->paramid == 1)
		return copy_node(context->value);
	return expression_tree_mutator(node, as_mutator(replace_sublink_param), context);
}

/* (SELECT e) -> e and x op ANY (SELECT e) -> x op e, when the sub-select has no FROM. */
static Node *
pull_up_sublink(SubLink *sublink)
{
	Expr	   *value;
	SublinkValue context;

	if (!IsA(sublink->subselect, Query) ||
		(sublink->subLinkType != EXPR_SUBLINK && sublink->subLinkType != ANY_SUBLINK))
		return NULL;
	value = single_row_value((Query *) sublink->subselect);
	if (value == NULL)
		return NULL;
	/* Its references to the outer query move one level up with it. */
	value = copy_node(value);
	IncrementVarSublevelsUp((Node *) value, -1, 1);
	if (sublink->subLinkType == EXPR_SUBLINK)
		return (Node *) value;
	context.value = (Node *) value;
	return replace_sublink_param(sublink->testexpr, &context);
}

static bool
is_sql_function(Oid funcid)
{
	HeapTuple	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	bool		sql;

	if (!HeapTupleIsValid(tuple))
		return false;
	sql = ((Form_pg_proc) GETSTRUCT(tuple))->prolang == SQLlanguageId;
	ReleaseSysCache(tuple);
	return sql;
}

/* Sub-selects pulled up, and calls of SQL functions inlined, at every level. */
static Node *
normalize_mutator(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
		return (Node *) query_tree_mutator((Query *) node, as_mutator(normalize_mutator),
										   context, 0);
	if (IsA(node, SubLink))
	{
		Node	   *pulled = pull_up_sublink((SubLink *) node);

		if (pulled)
			return normalize_mutator(pulled, context);
	}
	node = expression_tree_mutator(node, as_mutator(normalize_mutator), context);
	/* eval_const_expressions does not look into sub-selects: inline there by hand. */
	if ((IsA(node, FuncExpr) && is_sql_function(((FuncExpr *) node)->funcid)) ||
		(IsA(node, OpExpr) && is_sql_function(get_opcode(((OpExpr *) node)->opno))))
		node = eval_const_expressions(NULL, node);
	return node;
}

/* Runs the planner's simplifications with roleid as the current user. */
static Node *
as_role(Node *qual, Oid roleid, bool inline_sub_selects)
{
	Oid			saved_user;
	int			saved_context;
	Node	   *result;

	/* Inlining checks EXECUTE as the current user, as a SELECT by the role would. */
	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(roleid, saved_context | SECURITY_LOCAL_USERID_CHANGE);
	result = inline_sub_selects ? normalize_mutator(qual, NULL) : qual;
	result = eval_const_expressions(NULL, result);
	SetUserIdAndSecContext(saved_user, saved_context);
	return result;
}

Node *
policy_normalize(Node *qual, Oid roleid)
{
	return as_role(qual, roleid, true);
}

Node *
policy_fold(Node *qual, Oid roleid)
{
	return as_role(qual, roleid, false);
}

/* ---- the user's settings ---- */

struct BindContext
{
	const char *role_name;
	int			level;			/* sub-select depth of the node being rewritten */
};

static Const *
text_const(const char *value)
{
	if (value == NULL)
		return makeNullConst(TEXTOID, -1, DEFAULT_COLLATION_OID);
	return makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1, CStringGetTextDatum(value),
					 false, false);
}

static Node *
user_value(int param, const BindContext *context)
{
	Param	   *p = makeNode(Param);

	p->paramkind = PARAM_EXTERN;
	p->paramid = param;
	p->paramtype = TEXTOID;
	p->paramtypmod = -1;
	p->paramcollid = DEFAULT_COLLATION_OID;
	p->location = -1;
	return (Node *) p;
}

/*
 * The value of current_setting(name[, missing_ok]) for the user, or NULL if it is not
 * one of the user's settings (it is then left to Postgres).
 */
static Node *
setting_value(const FuncExpr *call, const BindContext *context)
{
	const Node *name_arg = (const Node *) linitial(call->args);
	bool		missing_ok = false;
	const char *name;

	if (!IsA(name_arg, Const) || ((const Const *) name_arg)->constisnull)
		return NULL;
	if (list_length(call->args) == 2)
	{
		const Node *flag = (const Node *) lsecond(call->args);

		if (!IsA(flag, Const) || ((const Const *) flag)->constisnull)
			return NULL;
		missing_ok = DatumGetBool(((const Const *) flag)->constvalue);
	}
	name = TextDatumGetCString(((const Const *) name_arg)->constvalue);
	if (pg_strcasecmp(name, "request.jwt.claims") == 0)
		return user_value(CLAIM_PARAM_CLAIMS, context);
	if (pg_strcasecmp(name, "request.jwt.claim.sub") == 0)
		return user_value(CLAIM_PARAM_SUB, context);
	if (pg_strcasecmp(name, "request.jwt.claim.role") == 0)
		return user_value(CLAIM_PARAM_ROLE, context);
	if (pg_strcasecmp(name, "realtime.topic") == 0)
		return (Node *) text_const("");
	if (pg_strcasecmp(name, "request.headers") == 0)
		return (Node *) text_const("{}");
	if (missing_ok && pg_strncasecmp(name, "request.jwt.", 12) == 0)
		return (Node *) text_const(NULL);
	return NULL;
}

static Node *
bind_mutator(Node *node, BindContext *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
	{
		Node	   *result;

		context->level++;
		result = (Node *) query_tree_mutator((Query *) node, as_mutator(bind_mutator),
											 context, 0);
		context->level--;
		return result;
	}
	if (IsA(node, FuncExpr) &&
		(((FuncExpr *) node)->funcid == F_CURRENT_SETTING_TEXT ||
		 ((FuncExpr *) node)->funcid == F_CURRENT_SETTING_TEXT_BOOL))
	{
		Node	   *value = setting_value((FuncExpr *) node, context);

		if (value)
			return value;
	}
	if (IsA(node, SQLValueFunction))
	{
		SQLValueFunctionOp op = ((SQLValueFunction *) node)->op;

		if (op == SVFOP_CURRENT_USER || op == SVFOP_CURRENT_ROLE || op == SVFOP_USER)
			return (Node *) makeConst(NAMEOID, -1, C_COLLATION_OID, NAMEDATALEN,
									  DirectFunctionCall1(namein, CStringGetDatum(context->role_name)),
									  false, false);
	}
	return expression_tree_mutator(node, as_mutator(bind_mutator), context);
}

Node *
policy_bind_settings(Node *qual, const char *role_name)
{
	BindContext context = {role_name, 0};

	return bind_mutator(qual, &context);
}

static Node *
user_columns_mutator(Node *node, int *level)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
	{
		Node	   *result;

		(*level)++;
		result = (Node *) query_tree_mutator((Query *) node, as_mutator(user_columns_mutator),
											 level, 0);
		(*level)--;
		return result;
	}
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXTERN &&
		((Param *) node)->paramid >= 1 && ((Param *) node)->paramid <= CLAIM_NPARAMS)
		return (Node *) makeVar(2, (AttrNumber) ((Param *) node)->paramid, TEXTOID, -1,
								DEFAULT_COLLATION_OID, (Index) *level);
	return expression_tree_mutator(node, as_mutator(user_columns_mutator), level);
}

Node *
policy_params_as_user_columns(Node *qual)
{
	int			level = 0;

	return user_columns_mutator(qual, &level);
}

/* ---- EXECUTE privileges ---- */

struct ExecuteContext
{
	Oid			roleid;
	Oid			denied;
};

/* The function the executor checks EXECUTE on for node (ExecInitFunc and ScalarArrayOp). */
static Oid
executed_function(Node *node)
{
	switch (nodeTag(node))
	{
		case T_FuncExpr:
			return ((FuncExpr *) node)->funcid;
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
			set_opfuncid((OpExpr *) node);
			return ((OpExpr *) node)->opfuncid;
		case T_ScalarArrayOpExpr:
			set_sa_opfuncid((ScalarArrayOpExpr *) node);
			return ((ScalarArrayOpExpr *) node)->opfuncid;
		default:
			return InvalidOid;
	}
}

static bool
execute_walker(Node *node, ExecuteContext *context)
{
	Oid			funcid;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, as_walker(execute_walker), context, 0);
	funcid = executed_function(node);
	if (OidIsValid(funcid) &&
		pg_proc_aclcheck(funcid, context->roleid, ACL_EXECUTE) != ACLCHECK_OK)
	{
		context->denied = funcid;
		return true;
	}
	return expression_tree_walker(node, as_walker(execute_walker), context);
}

const char *
policy_check_execute(Node *qual, Oid roleid)
{
	ExecuteContext context = {roleid, InvalidOid};

	if (!execute_walker(qual, &context))
		return NULL;
	return psprintf("permission denied for function %s", get_func_name(context.denied));
}
