/*
 * policy_check.h: the general path's check, as SQL the relay runs (see policy_template.h).
 *
 * Owns the text of a check and what it says about itself: the qual (normalized, the
 * user's settings bound as realtime_user columns) deparsed with ruleutils under the
 * catalog of the change, every name outside pg_catalog schema-qualified, over
 * realtime_row (the change relation's row type) and realtime_user(claims, sub, role);
 * whether it may read the settings in ways not visible here (a user-defined function, a
 * view, a table with row level security of its own, a setting named at run time), so
 * that the relay must set them per user; the columns it reads. Plain code (run in a
 * subtransaction: deparsing may raise an ERROR).
 */
#ifndef PG_REALTIME_POLICY_CHECK_H
#define PG_REALTIME_POLICY_CHECK_H

#include "policy_template.h"

PolicyCheck *policy_check_build(Node *qual, Relation rel);

#endif
