/*
 * policy_template.h: a role's row level security on one relation, compiled once for all
 * its subscribers.
 *
 * Owns the PolicyTemplate: what role_access.h found (the columns the role may read,
 * whether row level security applies) and, when it applies, the combined policies
 * turned into a small OR of ANDs of atoms the subscription index matches like filters
 * (docs/architecture.md, "Row level security"):
 *   column = | <> | < | <= | > | >= value, column = ANY(values), column <> ALL(values),
 *   column IS [NOT] NULL, and claims-only booleans (auth.role() = 'authenticated').
 * A value is a constant or a claim expression: a Var-free expression over the user's
 * settings (Params CLAIM_PARAM_*), e.g. auth.uid() inlined, evaluated once per
 * subscriber (claims_eval.h). Anything else in a disjunct (a membership sub-select, a
 * function that cannot be seen through) makes it residual: its atoms are necessary
 * conditions, and the subscriber is a candidate whose row the relay checks in Postgres
 * with the template's PolicyCheck (the whole qual as SQL, policy_check.h). Only forms
 * proven equivalent are compiled, in three-valued logic (a WHERE passes only TRUE).
 *
 * Templates are built per (change relation, access relation, role) under the catalog of
 * the change, cached by the relation cache, and dropped with it on any invalidation of
 * the relation, its access relation, roles, functions or schemas. Plain data palloc'd in
 * the caller's memory context.
 */
#ifndef PG_REALTIME_POLICY_TEMPLATE_H
#define PG_REALTIME_POLICY_TEMPLATE_H

#include "pg_headers.h"
#include "subscription_set.h"

/* The user's settings, as Params of the claim expressions (all text). */
enum
{
	CLAIM_PARAM_CLAIMS = 1,		/* request.jwt.claims */
	CLAIM_PARAM_SUB = 2,		/* request.jwt.claim.sub */
	CLAIM_PARAM_ROLE = 3,		/* request.jwt.claim.role */
	CLAIM_NPARAMS = 3
};

enum class AtomKind : uint8
{
	Compare,					/* column op value */
	In,							/* column = ANY(array value) */
	NotIn,						/* column <> ALL(array value) */
	IsNull,
	IsNotNull,
	IsTrue						/* a claims-only boolean value must be TRUE */
};

struct PolicyAtom
{
	AtomKind	kind;
	FilterOp	op;				/* Compare: Eq, Neq, Lt, Lte, Gt, Gte */
	AttrNumber	attnum;			/* 0 for IsTrue */
	int			param;			/* index into PolicyTemplate.params, or -1 */
	Datum		constant;		/* param < 0 */
	bool		constisnull;
};

struct PolicyDisjunct
{
	int			natoms;
	PolicyAtom *atoms;
	/* The atoms are necessary but not sufficient: the relay checks the row. */
	bool		residual;
	Node	   *qual;			/* residual: the disjunct (settings bound as Params) */
};

/*
 * The general path: the residual disjuncts, for the relay to evaluate as the user (a
 * candidate passes if one holds: the others cannot, or it would be a target).
 */
struct PolicyCheck
{
	/*
	 * SQL over two relations: realtime_row (the row image, of the change relation's row
	 * type) and realtime_user (claims, sub, role: the user's settings as text).
	 */
	int			nquals;
	const char **quals;
	/* The qual may read the settings in ways not visible here: set them per user. */
	bool		per_user;
	/* The attributes it reads (all of them if needs_all), which the row must carry. */
	bool		needs_all;
	int			nneeds;
	AttrNumber *needs;
};

struct PolicyTemplate
{
	const char *role;
	/* Why the role can read nothing of the relation: all its subscribers fail. */
	const char *denied;
	bool		denied_schema;	/* ... nor any table of its schema */
	int			natts;
	bool	   *visible;		/* attributes the role may SELECT */
	bool		all_visible;
	bool		rls;			/* false: every row; the rest is unset */
	int			ndisjuncts;		/* rls: the qual as an OR of these; 0: no row */
	PolicyDisjunct *disjuncts;
	int			nparams;
	Expr	  **params;			/* claim expressions over the CLAIM_PARAM_* Params */
	PolicyCheck *check;			/* set when a disjunct is residual */
};

/*
 * Builds the template of role_name reading access_relid, for changes of rel. May raise
 * an ERROR (a policy's function cannot be inlined, ...): callers run it in a
 * subtransaction and fail the template's subscribers with the message.
 */
PolicyTemplate *policy_template_build(Relation rel, Oid access_relid, const char *role_name);

#endif
