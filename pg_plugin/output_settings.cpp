/*
 * output_settings.cpp: the settings decoding runs with (see output_settings.h).
 * Plain code only.
 */
#include "output_settings.h"

static const struct
{
	const char *name;
	const char *value;
}			pinned[] = {
	{"TimeZone", "UTC"},
	{"DateStyle", "ISO, MDY"},
	{"IntervalStyle", "postgres"},
	{"extra_float_digits", "1"},
	{"bytea_output", "hex"},
};

int
pin_output_settings(void)
{
	bool		in_transaction = IsTransactionState();
	int			nest_level = in_transaction ? NewGUCNestLevel() : 0;

	for (const auto &setting : pinned)
		(void) set_config_option(setting.name, setting.value, PGC_USERSET, PGC_S_SESSION,
								 in_transaction ? GUC_ACTION_SAVE : GUC_ACTION_SET,
								 true, 0, false);
	return nest_level;
}

void
restore_output_settings(int nest_level)
{
	if (nest_level > 0)
		AtEOXact_GUC(true, nest_level);
}
