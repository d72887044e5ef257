/*
 * pattern_op.cpp: pattern filters evaluated with Postgres' own operators (see
 * pattern_op.h). Plain code only.
 */
#include "pattern_op.h"

extern "C"
{
PG_FUNCTION_INFO_V1(pg_realtime_pattern_operator);
}

const char *
pattern_op_symbol(FilterOp op)
{
	switch (op)
	{
		case FilterOp::Like:
			return "~~";
		case FilterOp::ILike:
			return "~~*";
		case FilterOp::Match:
			return "~";
		case FilterOp::IMatch:
			return "~*";
		default:
			return NULL;
	}
}

struct OperatorFacts
{
	Oid			left;
	Oid			right;
	Oid			function;
};

/* NULL if operator oprid is a boolean `symbol` operator taking coltype values as they are. */
static const char *
operator_misfit(Oid oprid, const char *symbol, Oid coltype, OperatorFacts *facts)
{
	HeapTuple	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(oprid));
	Form_pg_operator form;
	bool		shape_ok;

	if (!HeapTupleIsValid(tuple))
		return psprintf("operator %u does not exist", oprid);
	form = (Form_pg_operator) GETSTRUCT(tuple);
	shape_ok = strcmp(NameStr(form->oprname), symbol) == 0 && form->oprkind == 'b' &&
		form->oprresult == BOOLOID;
	facts->left = form->oprleft;
	facts->right = form->oprright;
	facts->function = form->oprcode;
	ReleaseSysCache(tuple);

	if (!shape_ok)
		return psprintf("operator %u is not a boolean %s operator", oprid, symbol);
	if (!IsBinaryCoercible(coltype, facts->left))
		return psprintf("operator %s takes %s, which a value of type %s is not",
						format_operator(oprid), format_type_be(facts->left),
						format_type_be(coltype));
	return NULL;
}

/* A LIKE pattern ending in an unescaped backslash, which Postgres rejects mid-match. */
static bool
ends_with_escape(Datum pattern)
{
	struct varlena *bytes = PG_DETOAST_DATUM_PACKED(pattern);
	const char *data = VARDATA_ANY(bytes);
	int			len = (int) VARSIZE_ANY_EXHDR(bytes);
	int			backslashes = 0;

	while (backslashes < len && data[len - 1 - backslashes] == '\\')
		backslashes++;
	return backslashes % 2 == 1;
}

static void
set_function(PatternOp *out, Oid oprid, const OperatorFacts *facts, Oid colcoll)
{
	out->oprid = oprid;
	fmgr_info_cxt(facts->function, &out->fn, CurrentMemoryContext);
	/* A WHERE clause takes the column's collation; a literal brings the default. */
	if (OidIsValid(colcoll))
		out->collation = colcoll;
	else
		out->collation = type_is_collatable(facts->left) ? DEFAULT_COLLATION_OID : InvalidOid;
}

/*
 * Parses the pattern and calls the operator once on an empty value, so that what the
 * operator rejects whatever the row is found now. Raises an ERROR on failure.
 */
static void
parse_and_probe(PatternOp *out, const OperatorFacts *facts, bool like, const char *pattern)
{
	Oid			input_fn;
	Oid			ioparam;
	Datum		empty;

	getTypeInputInfo(facts->right, &input_fn, &ioparam);
	out->pattern = OidInputFunctionCall(input_fn, const_cast<char *>(pattern), ioparam, -1);
	if (like && get_typlen(facts->right) == -1 && ends_with_escape(out->pattern))
		ereport(ERROR, (errcode(ERRCODE_INVALID_ESCAPE_SEQUENCE),
						errmsg("LIKE pattern must not end with escape character")));
	getTypeInputInfo(facts->left, &input_fn, &ioparam);
	empty = OidInputFunctionCall(input_fn, const_cast<char *>(""), ioparam, -1);
	(void) FunctionCall2Coll(&out->fn, out->collation, empty, out->pattern);
}

/* The regex flags of a built-in regular expression function, and what it reads. */
static RegexSubject
regex_function(Oid function, int *flags)
{
	*flags = REG_ADVANCED;
	switch (function)
	{
		case F_TEXTICREGEXEQ:
		case F_BPCHARICREGEXEQ:
			*flags |= REG_ICASE;
			/* FALLTHROUGH */
		case F_TEXTREGEXEQ:
		case F_BPCHARREGEXEQ:
			return RegexSubject::Varlena;
		case F_NAMEICREGEXEQ:
			*flags |= REG_ICASE;
			/* FALLTHROUGH */
		case F_NAMEREGEXEQ:
			return RegexSubject::Name;
		default:
			return RegexSubject::None;
	}
}

static void
free_regex(void *arg)
{
	pg_regfree(static_cast<regex_t *>(arg));
}

/* Text as the pg_wchar string the regex engine reads, palloc'd. */
static pg_wchar *
wide_text(const char *data, int len, int *wide_len)
{
	pg_wchar   *wide = (pg_wchar *) palloc(sizeof(pg_wchar) * (len + 1));

	*wide_len = pg_mb2wchar_with_len(data, wide, len);
	return wide;
}

/*
 * Compiles the pattern for the regex engine (the probe has already compiled it once,
 * so only running out of memory can fail here). The regex is malloc'd by the engine;
 * a reset callback of the current memory context frees it.
 */
static const char *
compile_regex(PatternOp *out, int flags)
{
	text	   *pattern = DatumGetTextPP(out->pattern);
	MemoryContextCallback *cleanup = (MemoryContextCallback *) palloc(sizeof(*cleanup));
	regex_t    *regex = (regex_t *) palloc(sizeof(regex_t));
	int			wide_len;
	pg_wchar   *wide = wide_text(VARDATA_ANY(pattern), VARSIZE_ANY_EXHDR(pattern), &wide_len);
	int			rc = pg_regcomp(regex, wide, wide_len, flags, out->collation);
	char		message[100];

	pfree(wide);
	if (rc != REG_OKAY)
	{
		pg_regerror(rc, regex, message, sizeof(message));
		return psprintf("invalid regular expression: %s", message);
	}
	cleanup->func = free_regex;
	cleanup->arg = regex;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cleanup);
	out->regex = regex;
	return NULL;
}

/* As textregexeq and its twins run a regex (RE_execute): the same call, the same error. */
bool
pattern_op_regex_matches(const PatternOp *op, Datum value)
{
	const char *data;
	int			len;
	int			wide_len;
	pg_wchar   *wide;
	int			rc;
	char		message[100];

	if (op->subject == RegexSubject::Name)
	{
		data = NameStr(*DatumGetName(value));
		len = (int) strlen(data);
	}
	else
	{
		text	   *t = DatumGetTextPP(value);

		data = VARDATA_ANY(t);
		len = (int) VARSIZE_ANY_EXHDR(t);
	}
	wide = wide_text(data, len, &wide_len);
	rc = pg_regexec(op->regex, wide, wide_len, 0, NULL, 0, NULL, 0);
	pfree(wide);
	if (rc != REG_OKAY && rc != REG_NOMATCH)
	{
		pg_regerror(rc, op->regex, message, sizeof(message));
		ereport(ERROR, (errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
						errmsg("regular expression failed: %s", message)));
	}
	return rc == REG_OKAY;
}

const char *
pattern_op_prepare(FilterOp op, Oid oprid, Oid coltype, Oid colcoll, const char *pattern,
				   PatternOp *out)
{
	const char *symbol = pattern_op_symbol(op);
	OperatorFacts facts;
	const char *misfit;
	MemoryContext cxt = CurrentMemoryContext;
	const char *volatile error = NULL;

	if (symbol == NULL)
		return "not a pattern operator";
	misfit = operator_misfit(oprid, symbol, coltype, &facts);
	if (misfit)
		return misfit;
	set_function(out, oprid, &facts, colcoll);

	/* As filter_parse_value: text input and the pattern operators hold no resources. */
	PG_TRY();
	{
		parse_and_probe(out, &facts, op == FilterOp::Like || op == FilterOp::ILike, pattern);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		error = edata->message;
	}
	PG_END_TRY();
	if (error == NULL && (op == FilterOp::Match || op == FilterOp::IMatch))
	{
		int			flags;
		RegexSubject subject = regex_function(facts.function, &flags);

		if (subject != RegexSubject::None)
		{
			error = compile_regex(out, flags);
			if (error == NULL)
				out->subject = subject;
		}
	}
	return error;
}

/* The column of relid called name, or an ERROR. */
static AttrNumber
column_of(Oid relid, const char *name)
{
	AttrNumber	attnum = get_attnum(relid, name);

	if (attnum <= 0)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
						errmsg("column \"%s\" does not exist in table %s", name,
							   get_rel_name(relid))));
	return attnum;
}

Datum
pg_realtime_pattern_operator(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *column = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *opname = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *pattern = text_to_cstring(PG_GETARG_TEXT_PP(3));
	FilterOp	op;
	const char *symbol;
	Oid			coltype;
	int32		typmod;
	Oid			colcoll;
	Operator	chosen;
	Oid			operator_oid;
	OperatorFacts facts;
	const char *misfit;
	PatternOp	prepared;

	if (!parse_filter_op(opname, &op) || (symbol = pattern_op_symbol(op)) == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("\"%s\" is not a pattern operator", opname)));
	get_atttypetypmodcoll(relid, column_of(relid, column), &coltype, &typmod, &colcoll);

	/* The parser's own choice for `column <symbol> 'literal'`, search path included. */
	chosen = oper(NULL, list_make1(makeString(pstrdup(symbol))), coltype, UNKNOWNOID, true, -1);
	if (chosen == NULL)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
						errmsg("operator %s is not supported for column \"%s\" of type %s",
							   opname, column, format_type_be(coltype))));
	operator_oid = oprid(chosen);
	ReleaseSysCache(chosen);

	misfit = operator_misfit(operator_oid, symbol, coltype, &facts);
	if (misfit)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
						errmsg("operator %s is not supported for column \"%s\" of type %s",
							   opname, column, format_type_be(coltype)),
						errdetail("%s.", misfit)));
	set_function(&prepared, operator_oid, &facts, colcoll);
	parse_and_probe(&prepared, &facts, op == FilterOp::Like || op == FilterOp::ILike, pattern);
	PG_RETURN_OID(operator_oid);
}
