/*
 * tuple_desc.h: looking up columns in a tuple descriptor by name.
 *
 * The subscription table's layout and the columns filters name are both found this way,
 * on the descriptor the decoder hands us, so no syscache lookup is needed. Plain code.
 */
#ifndef PG_REALTIME_TUPLE_DESC_H
#define PG_REALTIME_TUPLE_DESC_H

#include "pg_headers.h"

/* The attribute number of the live column called name, or 0. */
static inline AttrNumber
attnum_by_name(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	return 0;
}

#endif
