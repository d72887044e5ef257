/*
 * subscription_catalog.cpp: reads realtime.subscription rows into plain
 * SubscriptionRow data (see subscription_catalog.h; loading the whole table is
 * subscription_load.cpp). Plain code only: no object with a destructor lives on these
 * stacks, so Postgres errors may be raised anywhere here.
 */
#include "subscription_catalog.h"
#include "tuple_desc.h"


bool
relation_is_subscription_table(Relation rel)
{
	char	   *nspname;
	bool		result;

	/* Cheap tests first: this runs once per relation the session sees. */
	if (!RelationIsUsedAsCatalogTable(rel))
		return false;
	if (strcmp(RelationGetRelationName(rel), subscription_table) != 0)
		return false;
	nspname = get_namespace_name(RelationGetNamespace(rel));
	result = nspname != NULL && strcmp(nspname, subscription_schema) == 0;
	if (nspname)
		pfree(nspname);
	return result;
}

bool
subscription_layout(TupleDesc desc, SubscriptionLayout *layout)
{
	layout->id = attnum_by_name(desc, "id");
	layout->node_id = attnum_by_name(desc, "node_id");
	layout->entity = attnum_by_name(desc, "entity");
	layout->action_filter = attnum_by_name(desc, "action_filter");
	layout->filters = attnum_by_name(desc, "filters");
	layout->entity_schema = attnum_by_name(desc, "entity_schema");
	layout->claims = attnum_by_name(desc, "claims");
	layout->claims_role = attnum_by_name(desc, "claims_role");
	layout->select_columns = attnum_by_name(desc, "select_columns");
	return layout->id && layout->node_id && layout->entity && layout->action_filter &&
		layout->filters && layout->entity_schema && layout->claims && layout->claims_role &&
		layout->select_columns;
}

/* An UPDATE that leaves a TOASTed value alone logs only a pointer we must not follow. */
static bool
is_unchanged_toast(Datum value)
{
	return VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(value));
}

/* A text column, or NULL when its value is an unchanged TOAST pointer. */
static const char *
text_column(Datum value, bool isnull)
{
	if (isnull)
		return "";
	if (is_unchanged_toast(value))
		return NULL;
	return TextDatumGetCString(value);
}

static const char *
jsonb_string(JsonbValue *value)
{
	if (value == NULL || value->type != jbvString)
		return NULL;
	return pnstrdup(value->val.string.val, value->val.string.len);
}

/* An optional member: false / 0 when absent; false if present with another type. */
static bool
jsonb_optional_bool(JsonbContainer *object, const char *key, bool *out)
{
	JsonbValue	found;
	JsonbValue *value = getKeyJsonValueFromContainer(object, key, strlen(key), &found);

	*out = false;
	if (value == NULL)
		return true;
	if (value->type != jbvBool)
		return false;
	*out = value->val.boolean;
	return true;
}

static bool
jsonb_optional_oid(JsonbContainer *object, const char *key, uint32_t *out)
{
	JsonbValue	found;
	JsonbValue *value = getKeyJsonValueFromContainer(object, key, strlen(key), &found);

	const char *digits;
	char	   *end;
	unsigned long long number;

	*out = 0;
	if (value == NULL)
		return true;
	if (value->type != jbvNumeric)
		return false;
	/* Through the text, which cannot fail, rather than a cast, which raises on junk. */
	digits = DatumGetCString(DirectFunctionCall1(numeric_out,
												 NumericGetDatum(value->val.numeric)));
	errno = 0;
	number = strtoull(digits, &end, 10);
	if (*digits == '-' || *end != '\0' || errno != 0 || number > PG_UINT32_MAX)
		return false;
	*out = (uint32_t) number;
	return true;
}

/*
 * Parses one element of the filters array (see sql/subscription.sql):
 * {"column": name, "op": "eq|...|isdistinct", "values": [text or null, ...],
 *  "not": bool, "operator": oid}. Returns an error text or NULL.
 */
static const char *
parse_filter_element(JsonbValue *element, FilterRow *filter)
{
	JsonbContainer *object;
	JsonbValue	found;
	JsonbValue *values;
	const char **texts;
	int			nvalues;

	if (element->type != jbvBinary || !JsonContainerIsObject(element->val.binary.data))
		return "an element of filters is not a JSON object";
	object = element->val.binary.data;

	filter->column = jsonb_string(getKeyJsonValueFromContainer(object, "column", 6, &found));
	filter->op = jsonb_string(getKeyJsonValueFromContainer(object, "op", 2, &found));
	if (filter->column == NULL || filter->op == NULL)
		return "a filter lacks a \"column\" or \"op\" string";
	if (!jsonb_optional_bool(object, "not", &filter->negate) ||
		!jsonb_optional_oid(object, "operator", &filter->oper))
		return "a filter's \"not\" is not a boolean or its \"operator\" not a number";

	values = getKeyJsonValueFromContainer(object, "values", 6, &found);
	if (values == NULL || values->type != jbvBinary ||
		!JsonContainerIsArray(values->val.binary.data))
		return "a filter lacks a \"values\" array";

	nvalues = JsonContainerSize(values->val.binary.data);
	texts = (const char **) palloc0(sizeof(char *) * Max(nvalues, 1));
	for (int i = 0; i < nvalues; i++)
	{
		JsonbValue *value = getIthJsonbValueFromContainer(values->val.binary.data, i);

		texts[i] = jsonb_string(value);
		if (texts[i] == NULL && value->type != jbvNull)
			return "a filter value is not a JSON string or null";
	}
	filter->values = texts;
	filter->nvalues = nvalues;
	return NULL;
}

static void
read_filters(Datum value, SubscriptionRow *row)
{
	Jsonb	   *filters;
	int			count;
	FilterRow  *parsed;

	if (is_unchanged_toast(value))
	{
		row->filters_unchanged = true;
		return;
	}
	filters = DatumGetJsonbP(value);
	if (!JsonContainerIsArray(&filters->root) || JB_ROOT_IS_SCALAR(filters))
	{
		row->filters_error = "filters is not a JSON array";
		return;
	}
	count = JsonContainerSize(&filters->root);
	parsed = (FilterRow *) palloc0(sizeof(FilterRow) * Max(count, 1));
	for (int i = 0; i < count; i++)
	{
		JsonbValue *element = getIthJsonbValueFromContainer(&filters->root, i);
		const char *error = parse_filter_element(element, &parsed[i]);

		if (error)
		{
			row->filters_error = error;
			return;
		}
	}
	row->filters = parsed;
	row->nfilters = count;
}

/* claims ->> key, as SQL gives it ('' for a missing key or a JSON null). */
static const char *
claim_text(Datum claims, const char *key)
{
	Datum		value;
	bool		isnull;
	LOCAL_FCINFO(fcinfo, 2);

	InitFunctionCallInfoData(*fcinfo, NULL, 2, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = claims;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = CStringGetTextDatum(key);
	fcinfo->args[1].isnull = false;
	value = jsonb_object_field_text(fcinfo);
	isnull = fcinfo->isnull;
	return isnull ? "" : TextDatumGetCString(value);
}

/* The user: its role, and the settings its claims give (see UserRow). */
static void
read_user(Datum *values, bool *isnull, const SubscriptionLayout *layout, UserRow *user)
{
	Datum		claims = values[layout->claims - 1];

	user->role = isnull[layout->claims_role - 1] ? ""
		: pstrdup(NameStr(*DatumGetName(values[layout->claims_role - 1])));
	/* The column is NOT NULL; NULL is read as {} all the same. */
	if (isnull[layout->claims - 1])
		claims = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	else if (is_unchanged_toast(claims))
		return;
	claims = PointerGetDatum(DatumGetJsonbP(claims));
	user->claims = DatumGetCString(DirectFunctionCall1(jsonb_out, claims));
	user->claim_sub = claim_text(claims, "sub");
	user->claim_role = claim_text(claims, "role");
}

/* The select option: a text[] of column names, NULL for every column. */
static void
read_select(Datum value, bool isnull, SubscriptionRow *row)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	const char **names;

	if (isnull)
		return;
	if (is_unchanged_toast(value))
	{
		row->select_unchanged = true;
		return;
	}
	deconstruct_array(DatumGetArrayTypeP(value), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	names = (const char **) palloc0(sizeof(char *) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
	{
		if (!nulls[i])
			names[row->nselect++] = TextDatumGetCString(elems[i]);
	}
	row->has_select = true;
	row->select_columns = names;
}

bool
read_subscription_row(HeapTuple tuple, TupleDesc desc, const SubscriptionLayout *layout,
					  SubscriptionRow *row)
{
	Datum	   *values = (Datum *) palloc(sizeof(Datum) * desc->natts);
	bool	   *isnull = (bool *) palloc(sizeof(bool) * desc->natts);

	heap_deform_tuple(tuple, desc, values, isnull);
	memset(row, 0, sizeof(*row));

	if (isnull[layout->id - 1] ||
		(isnull[layout->entity - 1] && isnull[layout->entity_schema - 1]))
		return false;
	row->id = DatumGetInt64(values[layout->id - 1]);
	if (!isnull[layout->entity - 1])
		row->relid = DatumGetObjectId(values[layout->entity - 1]);
	else
		row->nspid = DatumGetObjectId(values[layout->entity_schema - 1]);
	read_user(values, isnull, layout, &row->user);
	read_select(values[layout->select_columns - 1], isnull[layout->select_columns - 1], row);
	row->node_id = text_column(values[layout->node_id - 1], isnull[layout->node_id - 1]);
	row->action = text_column(values[layout->action_filter - 1],
							  isnull[layout->action_filter - 1]);
	if (isnull[layout->filters - 1])
		row->filters_error = "filters is NULL";
	else
		read_filters(values[layout->filters - 1], row);
	return true;
}

bool
read_subscription_id(HeapTuple tuple, TupleDesc desc, const SubscriptionLayout *layout,
					 int64 *id)
{
	bool		isnull;
	Datum		value = heap_getattr(tuple, layout->id, desc, &isnull);

	if (isnull)
		return false;
	*id = DatumGetInt64(value);
	return true;
}
