/*
 * pg_guard.h: the boundary between C++ exceptions and Postgres errors.
 *
 * The rules every file of the plugin follows:
 *
 * 1. No C++ exception may unwind into Postgres frames. Every callback Postgres calls is
 *    an extern "C" function whose body runs inside pg_guard(), which catches every
 *    exception (std::bad_alloc included), lets the C++ frames of the body unwind, and
 *    only then raises ereport(ERROR). The callbacks themselves only call pg_guard() and
 *    plain Postgres functions.
 *
 * 2. A Postgres ERROR is a longjmp. C++ only allows a longjmp over frames whose
 *    automatic objects have trivial destructors. So code that calls into Postgres
 *    (catalog lookups, type input/output, comparators, palloc, StringInfo) keeps only
 *    plain data on its stack: raw pointers, PODs, iterators, references. Objects with a
 *    destructor (std::string, std::vector, unique_ptr) never live in a frame that calls
 *    Postgres; they live in the plugin state, reached through pointers.
 *
 * 3. Work that both calls Postgres and fills C++ containers is split in two phases:
 *    first the Postgres calls produce plain data (palloc'd in a memory context), then
 *    pure C++ code copies it into the containers. Long-lived state is therefore never
 *    left half-mutated by a Postgres error; at worst a C++ exception (bad_alloc) leaves
 *    a container with an extra harmless entry, and readers tolerate that.
 *
 * 4. Memory: the plugin's C++ containers use the C++ heap and are freed by the reset
 *    callback of the decoding context's memory context, so an ERROR that abandons the
 *    decoding session frees them too. Postgres-side data (FmgrInfo extras, parsed filter
 *    values, output column info) lives in memory contexts under ctx->context; C++
 *    destructors never touch memory contexts (at teardown Postgres deletes them itself).
 */
#ifndef PG_REALTIME_PG_GUARD_H
#define PG_REALTIME_PG_GUARD_H

#include "pg_headers.h"

#include <cstdio>
#include <exception>
#include <new>

/*
 * Runs body() and turns any C++ exception it throws into ereport(ERROR), raised after
 * the exception object and the body's frames are gone. `what` names the callback.
 */
template <typename Body>
inline void
pg_guard(const char *what, Body &&body)
{
	char		message[512];
	bool		failed = false;
	bool		out_of_memory = false;

	try
	{
		body();
	}
	catch (const std::bad_alloc &)
	{
		failed = true;
		out_of_memory = true;
		snprintf(message, sizeof(message), "out of memory");
	}
	catch (const std::exception &e)
	{
		failed = true;
		snprintf(message, sizeof(message), "%s", e.what());
	}
	catch (...)
	{
		failed = true;
		snprintf(message, sizeof(message), "unknown C++ exception");
	}

	if (failed)
		ereport(ERROR,
				(errcode(out_of_memory ? ERRCODE_OUT_OF_MEMORY : ERRCODE_INTERNAL_ERROR),
				 errmsg("pg_realtime: %s failed: %s", what, message)));
}

#endif
