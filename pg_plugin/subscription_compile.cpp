/*
 * subscription_compile.cpp: phase 1 of a relation's index (see subscription_index.h):
 * each subscription's filters parsed against the relation, its role's template
 * instantiated with its claim values, and the entries, views and checks this gives.
 * Plain code, Postgres calls over plain data, allocating in CurrentMemoryContext.
 */
#include "subscription_access.h"
#include "subscription_index.h"
#include "tuple_desc.h"

/* Growable arrays of the set under construction. */
struct CompileState
{
	Relation	rel;
	TupleDesc	desc;
	const RelationShape *shape;
	ColumnOps **columns;		/* per attribute, shared by all entries */
	CompiledSet *set;
	int			capacity;
	int			view_capacity;
	int			check_capacity;
	int			failed_capacity;
	bool	   *primary_key;	/* per attribute */
};

/* The conditions of one entry under construction. */
struct Conditions
{
	int			nfilters;
	int			filter_capacity;
	CompiledFilter *filters;
};

#define GROW(array, count, capacity, type) \
	do { \
		if ((count) == (capacity)) \
		{ \
			(capacity) = Max(8, (capacity) * 2); \
			(array) = (array) ? (type *) repalloc((array), sizeof(type) * (capacity)) \
				: (type *) palloc(sizeof(type) * (capacity)); \
		} \
	} while (0)

static ColumnOps *
column(CompileState *s, AttrNumber attnum)
{
	if (s->columns[attnum - 1] == NULL)
		s->columns[attnum - 1] = column_ops_create(s->desc, attnum);
	return s->columns[attnum - 1];
}

static CompiledFilter *
add_filter(Conditions *c)
{
	CompiledFilter *filter;

	GROW(c->filters, c->nfilters, c->filter_capacity, CompiledFilter);
	filter = &c->filters[c->nfilters++];
	memset(filter, 0, sizeof(*filter));
	return filter;
}

/* The subscription's own filters. Returns NULL on success, else why it matches nothing. */
static const char *
compile_filters(CompileState *s, const Subscription *sub, Conditions *out)
{
	for (const FilterSpec &spec : sub->filters)
	{
		AttrNumber	attnum = attnum_by_name(s->desc, spec.column.c_str());
		const char *error;

		if (attnum == 0)
			return psprintf("column \"%s\" does not exist", spec.column.c_str());
		error = filter_compile(&spec, column(s, attnum), add_filter(out));
		if (error)
			return psprintf("filter %s on column \"%s\": %s", filter_op_name(spec.op),
							spec.column.c_str(), error);
	}
	return NULL;
}

/* ---- the policies of one subscriber ---- */

static bool
atom_value(const PolicyAtom *atom, const ClaimValues *claims, Datum *value)
{
	if (atom->param >= 0)
	{
		*value = claims->values[atom->param];
		return !claims->isnull[atom->param];
	}
	*value = atom->constant;
	return !atom->constisnull;
}

/* The non-NULL elements of an array value; false if it has a NULL (when refused). */
static bool
array_values(Datum array, bool refuse_null, Datum **values, int *nvalues)
{
	ArrayType  *a = DatumGetArrayTypeP(array);
	int16		len;
	bool		byval;
	char		align;
	bool	   *nulls;
	Datum	   *elems;
	int			n;

	get_typlenbyvalalign(ARR_ELEMTYPE(a), &len, &byval, &align);
	deconstruct_array(a, ARR_ELEMTYPE(a), len, byval, align, &elems, &nulls, &n);
	*values = (Datum *) palloc(sizeof(Datum) * Max(n, 1));
	*nvalues = 0;
	for (int i = 0; i < n; i++)
	{
		if (nulls[i] && refuse_null)
			return false;
		if (!nulls[i])
			(*values)[(*nvalues)++] = datumCopy(elems[i], byval, len);
	}
	return true;
}

static void
add_compare(CompileState *s, Conditions *c, AttrNumber attnum, FilterOp op, int nvalues,
			Datum *values)
{
	CompiledFilter *filter = add_filter(c);

	filter->column = column(s, attnum);
	filter->op = op;
	filter->nvalues = nvalues;
	filter->values = values;
}

/*
 * Adds one atom's conditions. False if the atom cannot be TRUE for this subscriber (a
 * NULL value, an empty IN list, a NOT IN list with a NULL, a FALSE claims boolean).
 */
static bool
add_atom(CompileState *s, Conditions *c, const PolicyAtom *atom, const ClaimValues *claims)
{
	Datum		value = 0;
	bool		known = atom->kind == AtomKind::IsNull || atom->kind == AtomKind::IsNotNull ||
		atom_value(atom, claims, &value);
	Datum	   *values;
	int			n;

	if (!known)
		return false;
	switch (atom->kind)
	{
		case AtomKind::IsTrue:
			return DatumGetBool(value);
		case AtomKind::IsNull:
		case AtomKind::IsNotNull:
			{
				CompiledFilter *filter = add_filter(c);

				filter->column = column(s, atom->attnum);
				filter->op = FilterOp::Is;
				filter->is_test = IsTest::Null;
				filter->negate = atom->kind == AtomKind::IsNotNull;
				return true;
			}
		case AtomKind::Compare:
			values = (Datum *) palloc(sizeof(Datum));
			values[0] = datumCopy(value, column(s, atom->attnum)->typbyval,
								  column(s, atom->attnum)->typlen);
			add_compare(s, c, atom->attnum, atom->op, 1, values);
			return true;
		case AtomKind::In:
			if (!array_values(value, false, &values, &n) || n == 0)
				return false;
			add_compare(s, c, atom->attnum, FilterOp::In, n, values);
			return true;
		case AtomKind::NotIn:
			if (!array_values(value, true, &values, &n))
				return false;
			for (int i = 0; i < n; i++)
				add_compare(s, c, atom->attnum, FilterOp::Neq, 1, &values[i]);
			return true;
	}
	return false;
}

/* ---- views, checks, failures ---- */

/* 0 if mask shows every live column, else the 1-based view (shared by equal masks). */
static uint16
view_for(CompileState *s, bool *mask)
{
	CompiledSet *set = s->set;
	const RelationShape *shape = s->shape;
	bool		all = true;
	StringInfoData json;

	for (int i = 0; i < shape->natts; i++)
		all &= shape->columns[i].dropped || mask[i];
	if (all)
		return 0;
	for (int v = 0; v < set->nviews; v++)
	{
		if (memcmp(set->views[v].mask, mask, sizeof(bool) * shape->natts) == 0)
			return (uint16) (v + 1);
	}
	initStringInfo(&json);
	appendStringInfoString(&json, "\"columns\":[");
	for (int i = 0, n = 0; i < shape->natts; i++)
	{
		if (!mask[i] || shape->columns[i].dropped)
			continue;
		if (n++ > 0)
			appendStringInfoChar(&json, ',');
		appendBinaryStringInfo(&json, shape->columns[i].json_name, shape->columns[i].json_name_len);
	}
	appendStringInfoChar(&json, ']');
	GROW(set->views, set->nviews, s->view_capacity, ColumnView);
	set->views[set->nviews] = ColumnView{mask, json.data, json.len};
	return (uint16) ++set->nviews;
}

/*
 * The columns a subscriber receives: those its role may read, narrowed by the select
 * option to the columns named and the primary key; for a DELETE whose old row was not
 * checked, only the replica identity (the primary key, as Supabase sends it).
 */
static bool *
column_mask(CompileState *s, const PolicyTemplate *t, const Subscription *sub, bool identity_only)
{
	bool	   *mask = (bool *) palloc0(sizeof(bool) * Max(s->shape->natts, 1));

	for (int i = 0; i < s->shape->natts && i < t->natts; i++)
		mask[i] = t->visible[i] && (!identity_only || s->shape->columns[i].in_identity);
	if (!sub->has_select)
		return mask;
	for (int i = 0; i < s->shape->natts; i++)
	{
		bool		named = s->primary_key[i];

		for (size_t k = 0; k < sub->select_columns.size() && !named; k++)
			named = strcmp(NameStr(TupleDescAttr(s->desc, i)->attname),
						   sub->select_columns[k].c_str()) == 0;
		mask[i] &= named;
	}
	return mask;
}

static uint16
check_for(CompileState *s, const PolicyTemplate *t)
{
	CompiledSet *set = s->set;

	for (int c = 0; c < set->nchecks; c++)
	{
		if (set->checks[c] == t->check)
			return (uint16) (c + 1);
	}
	if (set->nchecks == s->check_capacity)
	{
		s->check_capacity = Max(4, s->check_capacity * 2);
		set->checks = (const PolicyCheck **) (set->checks
											  ? repalloc(set->checks, sizeof(void *) * s->check_capacity)
											  : palloc(sizeof(void *) * s->check_capacity));
		set->check_roles = (const char **) (set->check_roles
											? repalloc(set->check_roles, sizeof(void *) * s->check_capacity)
											: palloc(sizeof(void *) * s->check_capacity));
	}
	set->checks[set->nchecks] = t->check;
	set->check_roles[set->nchecks] = t->role;
	return (uint16) ++set->nchecks;
}

static void
fail(CompileState *s, const Subscription *sub, const char *message)
{
	GROW(s->set->failed, s->set->nfailed, s->failed_capacity, FailedSubscription);
	s->set->failed[s->set->nfailed++] = FailedSubscription{sub->id, sub->node, message};
	elog(DEBUG1, "pg_realtime: subscription %lld on table \"%s\" matches nothing: %s",
		 (long long) sub->id, RelationGetRelationName(s->rel), message);
}

/* ---- entries ---- */

/* Hashes of the anchor's values, duplicates removed (an "in" list may repeat a value). */
static void
hash_anchor(CompiledSubscription *out)
{
	const CompiledFilter *anchor = &out->filters[out->anchor];

	out->hashes = (uint32 *) palloc(sizeof(uint32) * anchor->nvalues);
	out->nhashes = 0;
	for (int v = 0; v < anchor->nvalues; v++)
	{
		uint32		hash = column_hash(anchor->column, anchor->values[v]);
		bool		seen = false;

		for (int k = 0; k < out->nhashes && !seen; k++)
			seen = out->hashes[k] == hash;
		if (!seen)
			out->hashes[out->nhashes++] = hash;
	}
}

static void
add_entry(CompileState *s, const Subscription *sub, uint8 actions, const Conditions *c,
		  uint16 view, uint16 check)
{
	CompiledSubscription *out;

	GROW(s->set->subs, s->set->nsubs, s->capacity, CompiledSubscription);
	out = &s->set->subs[s->set->nsubs++];
	memset(out, 0, sizeof(*out));
	out->id = sub->id;
	out->node = sub->node;
	out->actions = actions;
	out->view = view;
	out->check = check;
	out->nfilters = c->nfilters;
	out->filters = c->filters;
	out->anchor = -1;
	for (int f = 0; f < c->nfilters && out->anchor < 0; f++)
	{
		if (filter_anchors(&c->filters[f]))
			out->anchor = f;
	}
	if (out->anchor >= 0)
		hash_anchor(out);
}

/* A copy of the conditions, so that each disjunct extends its own. */
static Conditions
copy_conditions(const Conditions *c)
{
	Conditions	copy = *c;

	copy.filter_capacity = Max(c->nfilters, 1) + 4;
	copy.filters = (CompiledFilter *) palloc(sizeof(CompiledFilter) * copy.filter_capacity);
	if (c->nfilters > 0)
		memcpy(copy.filters, c->filters, sizeof(CompiledFilter) * c->nfilters);
	return copy;
}

/* A column the subscriber filters on or selects must be readable by its role. */
static const char *
check_columns(CompileState *s, const Subscription *sub, const PolicyTemplate *t,
			  const Conditions *filters)
{
	for (int f = 0; f < filters->nfilters; f++)
	{
		AttrNumber	attnum = filters->filters[f].column->attnum;

		if (!t->visible[attnum - 1])
			return psprintf("permission denied for column \"%s\" of table %s",
							NameStr(TupleDescAttr(s->desc, attnum - 1)->attname),
							RelationGetRelationName(s->rel));
	}
	for (const std::string &name : sub->select_columns)
	{
		AttrNumber	attnum = attnum_by_name(s->desc, name.c_str());

		/* A whole-schema binding selects the columns a table has and its role may read. */
		if (attnum != 0 && !t->visible[attnum - 1] && sub->relid != 0)
			return psprintf("permission denied for column \"%s\" of table %s", name.c_str(),
							RelationGetRelationName(s->rel));
	}
	return NULL;
}

/*
 * The entries of one subscription: under row level security, one per disjunct of its
 * role's policies that its claims can make TRUE (a DELETE is checked against the old
 * row only when the replica identity is FULL: otherwise it goes out with the primary
 * key alone, as Supabase sends it); without, one.
 */
static void
compile_subscription(CompileState *s, const Subscription *sub, const SubscriptionAccess *access)
{
	const PolicyTemplate *t = access->policy;
	Conditions	filters = {};
	const char *error = !sub->invalid_reason.empty() ? sub->invalid_reason.c_str() : t->denied;
	bool		full = s->shape->replident == REPLICA_IDENTITY_FULL;
	uint8		checked = sub->actions & (full ? ACTION_ALL : (ACTION_INSERT | ACTION_UPDATE));
	uint16		view;
	int			first = s->set->nsubs;

	if (error == NULL && access->claims)
		error = access->claims->error;
	if (error == NULL)
		error = compile_filters(s, sub, &filters);
	if (error == NULL)
		error = check_columns(s, sub, t, &filters);
	if (error)
	{
		/*
		 * A whole-schema binding covers the tables its user may read: one it cannot
		 * read (or whose policy raises for its claims) is not delivered, and the binding
		 * goes on for the others, unless it can read none (no role, no USAGE).
		 */
		if (sub->relid != 0 || !sub->invalid_reason.empty() ||
			(error == t->denied && t->denied_schema))
			fail(s, sub, error);
		return;
	}
	view = view_for(s, column_mask(s, t, sub, false));
	if (!t->rls)
	{
		add_entry(s, sub, sub->actions, &filters, view, 0);
		return;
	}
	for (int d = 0; d < t->ndisjuncts && checked; d++)
	{
		const PolicyDisjunct *disjunct = &t->disjuncts[d];
		Conditions	conditions = copy_conditions(&filters);
		bool		possible = true;

		for (int a = 0; a < disjunct->natoms && possible; a++)
			possible = add_atom(s, &conditions, &disjunct->atoms[a], access->claims);
		if (possible)
			add_entry(s, sub, checked, &conditions, view,
					  disjunct->residual ? check_for(s, t) : 0);
	}
	if (!full && (sub->actions & ACTION_DELETE))
		add_entry(s, sub, ACTION_DELETE, &filters, view_for(s, column_mask(s, t, sub, true)), 0);
	s->set->multi_entry |= s->set->nsubs - first > 1;
}

static void
allocate_probe(RowView *row, int natts)
{
	row->natts = natts;
	row->values = (Datum *) palloc0(sizeof(Datum) * Max(natts, 1));
	row->isnull = (bool *) palloc0(sizeof(bool) * Max(natts, 1));
	row->present = (bool *) palloc0(sizeof(bool) * Max(natts, 1));
}

/* The attributes conditions read (those with ColumnOps), ascending, and the scratch rows. */
static void
collect_columns(CompiledSet *set, ColumnOps **columns, int natts)
{
	set->columns = (AttrNumber *) palloc(sizeof(AttrNumber) * Max(natts, 1));
	for (int i = 0; i < natts; i++)
	{
		if (columns[i])
			set->columns[set->ncolumns++] = (AttrNumber) (i + 1);
	}
	allocate_probe(&set->probe_new, natts);
	allocate_probe(&set->probe_old, natts);
}

/* Primary key attributes, which the select option always sends (as Supabase does). */
static bool *
primary_key_mask(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool	   *mask = (bool *) palloc0(sizeof(bool) * Max(desc->natts, 1));
	Oid			pk = RelationGetPrimaryKeyIndex(rel);
	Relation	index;

	if (!OidIsValid(pk) || !RelationIsValid(index = RelationIdGetRelation(pk)))
		return mask;
	for (int k = 0; k < index->rd_index->indnkeyatts; k++)
	{
		AttrNumber	attnum = index->rd_index->indkey.values[k];

		if (attnum > 0 && attnum <= desc->natts)
			mask[attnum - 1] = true;
	}
	RelationClose(index);
	return mask;
}

CompiledSet *
compile_subscriptions(Relation rel, const RelationShape *shape, const Subscription *const *subs,
					  const SubscriptionAccess *access, int nsubs)
{
	CompileState s = {};
	TupleDesc	desc = RelationGetDescr(rel);

	s.rel = rel;
	s.desc = desc;
	s.shape = shape;
	s.set = (CompiledSet *) palloc0(sizeof(CompiledSet));
	s.columns = (ColumnOps **) palloc0(sizeof(ColumnOps *) * Max(desc->natts, 1));
	s.primary_key = primary_key_mask(rel);
	for (int i = 0; i < nsubs; i++)
		compile_subscription(&s, subs[i], &access[i]);
	if (s.set->nfailed > 0)
		ereport(WARNING,
				(errmsg("pg_realtime: %d subscription(s) on table \"%s\" can no longer be served, the first (%lld): %s",
						s.set->nfailed, RelationGetRelationName(rel),
						(long long) s.set->failed[0].id, s.set->failed[0].message)));
	collect_columns(s.set, s.columns, desc->natts);
	return s.set;
}
