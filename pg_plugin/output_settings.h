/*
 * output_settings.h: the session settings decoding runs with.
 *
 * Owns pinning the settings that Postgres' input and output functions read to the
 * values Supabase's database sessions have, so that what the plugin writes (a
 * tstzrange, an array's text, money) and how it parses filter values (a timestamptz
 * without a zone, a date like 01/02/2024) do not depend on the server's or the
 * caller's configuration: TimeZone UTC, DateStyle ISO, MDY, IntervalStyle postgres,
 * extra_float_digits 1, bytea_output hex. In a transaction (pg_logical_slot_get_changes
 * and friends) they are set at a GUC nest level of their own and restored when the
 * session ends, or by the transaction's abort on an error; in a walsender, which
 * decodes outside transactions and does nothing else, they are set for the session.
 * Plain code (see pg_guard.h).
 */
#ifndef PG_REALTIME_OUTPUT_SETTINGS_H
#define PG_REALTIME_OUTPUT_SETTINGS_H

#include "pg_headers.h"

/* Pins the settings; returns the GUC nest level to restore, or 0 if none. */
int			pin_output_settings(void);

/* Undoes pin_output_settings (nest_level 0: nothing to undo). */
void		restore_output_settings(int nest_level);

#endif
