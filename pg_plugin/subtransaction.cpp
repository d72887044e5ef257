/*
 * subtransaction.cpp: work whose ERROR is rolled back and reported (see subtransaction.h).
 */
#include "subtransaction.h"

/*
 * Interrupts say nothing about the work: the session is being cancelled or shut down,
 * so they go on up. Every other error, internal ones included, is the work's.
 */
static bool
must_propagate(const ErrorData *edata)
{
	switch (edata->sqlerrcode)
	{
		case ERRCODE_QUERY_CANCELED:
		case ERRCODE_ADMIN_SHUTDOWN:
		case ERRCODE_CRASH_SHUTDOWN:
			return true;
		default:
			return false;
	}
}

const char *
run_in_subtransaction(SubtransactionWork work, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		work(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;

	if (edata == NULL)
		return NULL;
	if (must_propagate(edata))
		ReThrowError(edata);
	return edata->message ? edata->message : "unknown error";
}
