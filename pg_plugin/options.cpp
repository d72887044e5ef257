/*
 * options.cpp: parses and validates the output plugin's options (see options.h).
 */
#include "options.h"

#include <cerrno>
#include <cstdlib>

static const char *const known_options =
	"include-unmatched, subscription-events, arrays-as-json, max-record-bytes";

/* A boolean option given without a value means true, as in test_decoding. */
static bool
option_bool(DefElem *elem)
{
	bool		value;

	if (elem->arg == NULL)
		return true;
	if (!parse_bool(strVal(elem->arg), &value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pg_realtime: option \"%s\" needs a boolean value, got \"%s\"",
						elem->defname, strVal(elem->arg))));
	return value;
}

static int64
option_positive_int(DefElem *elem)
{
	const char *text = elem->arg ? strVal(elem->arg) : "";
	char	   *end = NULL;
	long long	value;

	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pg_realtime: option \"%s\" needs a positive integer, got \"%s\"",
						elem->defname, text)));
	return value;
}

void
parse_plugin_options(List *defels, PluginOptions *options)
{
	ListCell   *cell;

	foreach(cell, defels)
	{
		DefElem    *elem = (DefElem *) lfirst(cell);

		if (strcmp(elem->defname, "include-unmatched") == 0)
			options->include_unmatched = option_bool(elem);
		else if (strcmp(elem->defname, "subscription-events") == 0)
			options->subscription_events = option_bool(elem);
		else if (strcmp(elem->defname, "arrays-as-json") == 0)
			options->arrays_as_json = option_bool(elem);
		else if (strcmp(elem->defname, "max-record-bytes") == 0)
			options->max_record_bytes = option_positive_int(elem);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pg_realtime: unknown option \"%s\"", elem->defname),
					 errhint("The options of pg_realtime are: %s.", known_options)));
	}
}
