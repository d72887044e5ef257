/*
 * policy_check.h: the general path's check, as SQL the relay runs (see policy_template.h).
 *
 * Owns the text of a check and what it says about itself: each residual disjunct of the
 * qual (its settings Params as realtime_user columns), deparsed with ruleutils under the
 * catalog of the change, every name outside pg_catalog schema-qualified, over
 * realtime_row (the change relation's row type) and realtime_user(claims, sub, role).
 * One statement per disjunct keeps its conditions a top-level AND, where Postgres turns
 * a correlated EXISTS into a semi-join: the membership of all candidates in one join
 * instead of one sub-select per candidate; so `x IN (SELECT e FROM ... WHERE w)` at the
 * top of a disjunct is written `EXISTS (SELECT 1 FROM ... WHERE w AND x = e)`, the same
 * in a WHERE (both are TRUE exactly when some e equals x). Also whether the check may
 * read the settings in ways not visible here (a user-defined function, a view, a table
 * with row level security of its own, a setting named at run time), so that the relay
 * must set them per user, and the columns it reads. Plain code (run in a
 * subtransaction: deparsing may raise an ERROR).
 */
#ifndef PG_REALTIME_POLICY_CHECK_H
#define PG_REALTIME_POLICY_CHECK_H

#include "policy_template.h"

/* The check of t's residual disjuncts. */
PolicyCheck *policy_check_build(const PolicyTemplate *t, Relation rel);

#endif
