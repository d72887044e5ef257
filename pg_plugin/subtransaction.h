/*
 * subtransaction.h: running Postgres work whose ERROR must not stop decoding.
 *
 * Owns the one way the plugin contains an ERROR raised by work done for one user (a
 * policy that cannot be compiled for a role, claims that do not cast to the type a
 * policy compares them with): the work runs in an internal subtransaction, like a
 * PL/pgSQL exception block; an ERROR rolls it back (locks, buffer pins, catalog
 * references, the current user are restored) and comes back as a message, and decoding
 * goes on. Plain code (see pg_guard.h): the work must keep no object with a destructor
 * on its stack, and results it keeps must be allocated in a memory context that outlives
 * the subtransaction (the caller's, which is current when the work starts).
 */
#ifndef PG_REALTIME_SUBTRANSACTION_H
#define PG_REALTIME_SUBTRANSACTION_H

#include "pg_headers.h"

typedef void (*SubtransactionWork) (void *arg);

/*
 * Runs work(arg). Returns NULL if it completed, else the ERROR's message, palloc'd in
 * the caller's memory context. Interrupts (query cancel, shutdown) are raised again.
 */
const char *run_in_subtransaction(SubtransactionWork work, void *arg);

#endif
