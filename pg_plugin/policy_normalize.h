/*
 * policy_normalize.h: a role's combined policy qual, in the form the plugin reasons on.
 *
 * Owns three rewrites of the qual, each equivalent for that role and its settings:
 *   - normalizing: a sub-select without FROM, (SELECT e) or x IN (SELECT e), becomes e;
 *     SQL functions are inlined (as the planner does, with the role as the current user,
 *     so its EXECUTE privilege decides as in a real SELECT), also inside sub-selects;
 *     constants are folded;
 *   - the settings: current_setting('request.jwt.claims' | 'request.jwt.claim.sub' |
 *     'request.jwt.claim.role') become references to the user's values (Params for the
 *     claim expressions, then realtime_user columns for the SQL of a check);
 *     current_user / current_role become the role's name; realtime.topic and
 *     request.headers their values for postgres_changes ('' and '{}'); other
 *     request.jwt.* settings are unset (NULL with missing_ok);
 *   - the EXECUTE privilege of the role on every function left in it.
 * Plain code (see pg_guard.h) that may raise an ERROR (run in a subtransaction).
 */
#ifndef PG_REALTIME_POLICY_NORMALIZE_H
#define PG_REALTIME_POLICY_NORMALIZE_H

#include "pg_headers.h"

/* Sub-selects without FROM pulled up, SQL functions inlined as roleid, constants folded. */
Node	   *policy_normalize(Node *qual, Oid roleid);

/* Constants folded again (after the settings are bound), as roleid. */
Node	   *policy_fold(Node *qual, Oid roleid);

/*
 * The settings of the user replaced (see above) by Params CLAIM_PARAM_* (text);
 * role_name is the current user.
 */
Node	   *policy_bind_settings(Node *qual, const char *role_name);

/* The CLAIM_PARAM_* Params as columns of range table entry 2 (realtime_user), for SQL. */
Node	   *policy_params_as_user_columns(Node *qual);

/* NULL if roleid may execute every function of qual, else the permission error. */
const char *policy_check_execute(Node *qual, Oid roleid);

#endif
