/*
 * policy_dnf.cpp: classifying a policy qual into atoms (see policy_dnf.h).
 */
#include "policy_dnf.h"
#include "tree_walk.h"

static const int max_disjuncts = 64;

/* A disjunct under construction. */
struct Conj
{
	List	   *atoms;			/* of PolicyAtom * */
	bool		residual;
	List	   *literals;		/* its conditions as expressions, negations applied */
};

struct DnfContext
{
	TupleDesc	desc;
	List	   *params;			/* claim expressions, in PolicyTemplate.params order */
	Node	   *qual;			/* the whole qual, for a disjunct that stands for it */
};

/* ---- claim expressions ---- */

static bool
is_builtin(Oid oid)
{
	return oid < FirstNormalObjectId;
}

static bool
builtin_immutable(Oid funcid, void *context)
{
	return !is_builtin(funcid) || func_volatile(funcid) != PROVOLATILE_IMMUTABLE;
}

/* Nodes a claim expression may hold; true if node is not one (see is_claim_expression). */
static bool
claim_walker(Node *node, bool *has_param)
{
	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_Param:
			*has_param = true;
			return ((Param *) node)->paramkind != PARAM_EXTERN;
		case T_CoerceViaIO:
			if (!is_builtin(((CoerceViaIO *) node)->resulttype) ||
				!is_builtin(exprType((Node *) ((CoerceViaIO *) node)->arg)))
				return true;
			break;
		case T_Const:
		case T_FuncExpr:
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
		case T_ScalarArrayOpExpr:
		case T_BoolExpr:
		case T_CoalesceExpr:
		case T_MinMaxExpr:
		case T_CaseExpr:
		case T_CaseWhen:
		case T_CaseTestExpr:
		case T_RelabelType:
		case T_ArrayExpr:
		case T_NullTest:
		case T_BooleanTest:
		case T_CollateExpr:
		case T_List:
			break;
		default:
			return true;
	}
	if (check_functions_in_node(node, builtin_immutable, NULL))
		return true;
	return expression_tree_walker(node, as_walker(claim_walker), has_param);
}

/*
 * True if node can be evaluated once per subscriber: it reads only the user's settings,
 * through builtin immutable functions (a user function could read anything).
 */
static bool
is_claim_expression(Node *node)
{
	bool		has_param = false;

	return !claim_walker(node, &has_param) && has_param;
}

static int
claim_param(Node *expr, DnfContext *context)
{
	int			i = 0;
	ListCell   *cell;

	foreach(cell, context->params)
	{
		if (equal(lfirst(cell), expr))
			return i;
		i++;
	}
	context->params = lappend(context->params, expr);
	return i;
}

/* ---- atoms ---- */

static Var *
column_var(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node && IsA(node, Var) && ((Var *) node)->varno == 1 &&
		((Var *) node)->varlevelsup == 0 && ((Var *) node)->varattno > 0)
		return (Var *) node;
	return NULL;
}

/* The column's default btree family, as the index compares it (filter.h's ColumnOps). */
static bool
column_family(TupleDesc desc, const Var *var, Oid *family, Oid *intype, Oid *collation)
{
	Form_pg_attribute att = TupleDescAttr(desc, var->varattno - 1);
	Oid			opclass = GetDefaultOpClass(getBaseType(att->atttypid), BTREE_AM_OID);

	if (!OidIsValid(opclass))
		return false;
	*family = get_opclass_family(opclass);
	*intype = get_opclass_input_type(opclass);
	*collation = att->attcollation;
	return true;
}

/* The btree strategy of opno for same-type comparisons in family, or 0. */
static int
btree_strategy(Oid opno, Oid family, Oid intype)
{
	int			strategy;
	Oid			left;
	Oid			right;

	if (!OidIsValid(opno) || !op_in_opfamily(opno, family))
		return 0;
	get_op_opfamily_properties(opno, family, false, &strategy, &left, &right);
	return left == intype && right == intype ? strategy : 0;
}

static bool
op_of_strategy(int strategy, FilterOp *op)
{
	static const FilterOp ops[] = {FilterOp::Lt, FilterOp::Lte, FilterOp::Eq, FilterOp::Gte,
	FilterOp::Gt};

	if (strategy < 1 || strategy > 5)
		return false;
	*op = ops[strategy - 1];
	return true;
}

static FilterOp
negated_op(FilterOp op)
{
	switch (op)
	{
		case FilterOp::Eq:
			return FilterOp::Neq;
		case FilterOp::Neq:
			return FilterOp::Eq;
		case FilterOp::Lt:
			return FilterOp::Gte;
		case FilterOp::Lte:
			return FilterOp::Gt;
		case FilterOp::Gt:
			return FilterOp::Lte;
		case FilterOp::Gte:
			return FilterOp::Lt;
		default:
			return op;
	}
}

static PolicyAtom *
new_atom(AtomKind kind, AttrNumber attnum)
{
	PolicyAtom *atom = (PolicyAtom *) palloc0(sizeof(PolicyAtom));

	atom->kind = kind;
	atom->attnum = attnum;
	atom->param = -1;
	return atom;
}

/* The value of an atom: a constant, or a claim expression. False if neither. */
static bool
set_value(PolicyAtom *atom, Node *value, DnfContext *context)
{
	if (IsA(value, Const))
	{
		atom->constant = ((Const *) value)->constvalue;
		atom->constisnull = ((Const *) value)->constisnull;
		return true;
	}
	if (!is_claim_expression(value))
		return false;
	atom->param = claim_param(value, context);
	return true;
}

/* column op value or value op column. */
static PolicyAtom *
comparison_atom(OpExpr *expr, bool negate, DnfContext *context)
{
	Node	   *left = (Node *) linitial(expr->args);
	Node	   *right = (Node *) lsecond(expr->args);
	Var		   *var = column_var(left);
	Oid			opno = expr->opno;
	Oid			family, intype, collation;
	FilterOp	op;
	PolicyAtom *atom;

	if (var == NULL && (var = column_var(right)) != NULL)
	{
		right = left;
		opno = get_commutator(opno);
	}
	if (var == NULL || !column_family(context->desc, var, &family, &intype, &collation) ||
		(OidIsValid(collation) && expr->inputcollid != collation))
		return NULL;
	if (!op_of_strategy(btree_strategy(opno, family, intype), &op))
	{
		if (!OidIsValid(opno) ||
			btree_strategy(get_negator(opno), family, intype) != BTEqualStrategyNumber)
			return NULL;
		op = FilterOp::Neq;
	}
	atom = new_atom(AtomKind::Compare, var->varattno);
	atom->op = negate ? negated_op(op) : op;
	return set_value(atom, right, context) ? atom : NULL;
}

/* column = ANY(array) and column <> ALL(array). */
static PolicyAtom *
array_atom(ScalarArrayOpExpr *expr, bool negate, DnfContext *context)
{
	Var		   *var = column_var((Node *) linitial(expr->args));
	Oid			family, intype, collation;
	bool		in;
	PolicyAtom *atom;

	if (var == NULL || !column_family(context->desc, var, &family, &intype, &collation) ||
		(OidIsValid(collation) && expr->inputcollid != collation))
		return NULL;
	if (expr->useOr && btree_strategy(expr->opno, family, intype) == BTEqualStrategyNumber)
		in = true;
	else if (!expr->useOr &&
			 btree_strategy(get_negator(expr->opno), family, intype) == BTEqualStrategyNumber)
		in = false;
	else
		return NULL;
	atom = new_atom(in != negate ? AtomKind::In : AtomKind::NotIn, var->varattno);
	return set_value(atom, (Node *) lsecond(expr->args), context) ? atom : NULL;
}

/* A boolean column, NOT of it, or column IS [NOT] NULL. */
static PolicyAtom *
column_atom(Node *node, bool negate, DnfContext *context)
{
	Var		   *var;

	if (IsA(node, NullTest))
	{
		NullTest   *test = (NullTest *) node;

		var = column_var((Node *) test->arg);
		if (var == NULL || test->argisrow || type_is_rowtype(var->vartype))
			return NULL;
		return new_atom((test->nulltesttype == IS_NULL) != negate ? AtomKind::IsNull
						: AtomKind::IsNotNull, var->varattno);
	}
	var = column_var(node);
	if (var == NULL || getBaseType(var->vartype) != BOOLOID)
		return NULL;
	PolicyAtom *atom = new_atom(AtomKind::Compare, var->varattno);

	atom->op = FilterOp::Eq;
	atom->constant = BoolGetDatum(!negate);
	return atom;
}

static PolicyAtom *
atom_of(Node *node, bool negate, DnfContext *context)
{
	if (exprType(node) == BOOLOID && is_claim_expression(node))
	{
		PolicyAtom *atom = new_atom(AtomKind::IsTrue, 0);

		atom->param = claim_param(negate ? (Node *) makeBoolExpr(NOT_EXPR, list_make1(node), -1)
								  : node, context);
		return atom;
	}
	if (IsA(node, OpExpr) && list_length(((OpExpr *) node)->args) == 2)
		return comparison_atom((OpExpr *) node, negate, context);
	if (IsA(node, ScalarArrayOpExpr))
		return array_atom((ScalarArrayOpExpr *) node, negate, context);
	return column_atom(node, negate, context);
}

/* ---- the OR of ANDs ---- */

static Conj *
new_conj(List *atoms, bool residual, List *literals)
{
	Conj	   *conj = (Conj *) palloc(sizeof(Conj));

	conj->atoms = atoms;
	conj->residual = residual;
	conj->literals = literals;
	return conj;
}

/* What a qual too large to expand becomes: every row is a candidate of the whole qual. */
static List *
check_everything(DnfContext *context)
{
	return list_make1(new_conj(NIL, true, list_make1(context->qual)));
}

static List *
dnf_of(Node *node, bool negate, DnfContext *context);

/* a AND b: every pair of disjuncts. */
static List *
dnf_and(List *a, List *b, DnfContext *context)
{
	List	   *result = NIL;
	ListCell   *x;
	ListCell   *y;

	if ((int64) list_length(a) * list_length(b) > max_disjuncts)
		return check_everything(context);
	foreach(x, a)
	{
		foreach(y, b)
		{
			Conj	   *left = (Conj *) lfirst(x);
			Conj	   *right = (Conj *) lfirst(y);

			result = lappend(result, new_conj(list_concat_copy(left->atoms, right->atoms),
											  left->residual || right->residual,
											  list_concat_copy(left->literals, right->literals)));
		}
	}
	return result;
}

/* An AND (or, negated, an OR: De Morgan) of args, or their OR. */
static List *
dnf_bool(List *args, bool conjunction, bool negate, DnfContext *context)
{
	List	   *result = conjunction ? list_make1(new_conj(NIL, false, NIL)) : NIL;
	ListCell   *cell;

	foreach(cell, args)
	{
		List	   *part = dnf_of((Node *) lfirst(cell), negate, context);

		result = conjunction ? dnf_and(result, part, context) : list_concat(result, part);
		if (list_length(result) > max_disjuncts)
			return check_everything(context);
	}
	return result;
}

/* TRUE is one empty disjunct; FALSE and NULL (which WHERE treats alike) are none. */
static List *
dnf_const(const Const *value, bool negate)
{
	if (value->constisnull || DatumGetBool(value->constvalue) == negate)
		return NIL;
	return list_make1(new_conj(NIL, false, NIL));
}

static List *
dnf_of(Node *node, bool negate, DnfContext *context)
{
	PolicyAtom *atom;
	Node	   *literal;

	if (IsA(node, Const) && ((Const *) node)->consttype == BOOLOID)
		return dnf_const((Const *) node, negate);
	if (IsA(node, BoolExpr))
	{
		BoolExpr   *expr = (BoolExpr *) node;

		if (expr->boolop == NOT_EXPR)
			return dnf_of((Node *) linitial(expr->args), !negate, context);
		return dnf_bool(expr->args, (expr->boolop == AND_EXPR) != negate, negate, context);
	}
	atom = atom_of(node, negate, context);
	literal = negate ? (Node *) makeBoolExpr(NOT_EXPR, list_make1(node), -1) : node;
	return list_make1(new_conj(atom ? list_make1(atom) : NIL, atom == NULL, list_make1(literal)));
}

void
policy_to_dnf(Node *qual, Relation rel, PolicyTemplate *t)
{
	DnfContext	context = {RelationGetDescr(rel), NIL, qual};
	List	   *dnf = dnf_of(qual, false, &context);
	ListCell   *cell;
	int			d = 0;

	t->ndisjuncts = list_length(dnf);
	t->disjuncts = (PolicyDisjunct *) palloc0(sizeof(PolicyDisjunct) * Max(t->ndisjuncts, 1));
	foreach(cell, dnf)
	{
		Conj	   *conj = (Conj *) lfirst(cell);
		PolicyDisjunct *out = &t->disjuncts[d++];
		ListCell   *a;
		int			i = 0;

		out->residual = conj->residual;
		if (conj->residual)
			out->qual = list_length(conj->literals) == 1 ? (Node *) linitial(conj->literals)
				: (Node *) makeBoolExpr(AND_EXPR, conj->literals, -1);
		out->natoms = list_length(conj->atoms);
		out->atoms = (PolicyAtom *) palloc(sizeof(PolicyAtom) * Max(out->natoms, 1));
		foreach(a, conj->atoms)
			out->atoms[i++] = *(PolicyAtom *) lfirst(a);
	}
	t->nparams = list_length(context.params);
	t->params = (Expr **) palloc(sizeof(Expr *) * Max(t->nparams, 1));
	d = 0;
	foreach(cell, context.params)
		t->params[d++] = (Expr *) lfirst(cell);
}
