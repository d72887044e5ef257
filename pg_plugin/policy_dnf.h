/*
 * policy_dnf.h: a normalized policy qual as an OR of ANDs of atoms (see policy_template.h).
 *
 * Owns what counts as an atom, and the proof obligations: negations are pushed to the
 * atoms (Kleene logic keeps De Morgan, and the negation of an atom is exact for non-NULL
 * values; a NULL makes both false), an operator is compiled only if it is a member of
 * the column type's default btree operator family with the column's collation (the
 * comparator the index uses), and a value only if it is a constant or a claim
 * expression: Var-free, over the user's settings, with builtin immutable functions only.
 * Everything else is residual. More than max_disjuncts disjuncts give one residual
 * disjunct without atoms (every subscriber of the role is then a candidate). Plain code.
 */
#ifndef PG_REALTIME_POLICY_DNF_H
#define PG_REALTIME_POLICY_DNF_H

#include "policy_template.h"

/* Sets t->disjuncts and t->params from qual (settings bound as Params). */
void		policy_to_dnf(Node *qual, Relation rel, PolicyTemplate *t);

#endif
