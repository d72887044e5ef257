/*
 * subscription_set.cpp: the raw subscriptions of a decoding session (see
 * subscription_set.h). Pure C++: nothing here calls Postgres.
 */
#include "subscription_set.h"

#include <cstring>

static const struct
{
	const char *name;
	FilterOp	op;
}			filter_ops[] = {
	{"eq", FilterOp::Eq}, {"neq", FilterOp::Neq}, {"lt", FilterOp::Lt},
	{"lte", FilterOp::Lte}, {"gt", FilterOp::Gt}, {"gte", FilterOp::Gte},
	{"in", FilterOp::In}, {"like", FilterOp::Like}, {"ilike", FilterOp::ILike},
	{"match", FilterOp::Match}, {"imatch", FilterOp::IMatch}, {"is", FilterOp::Is},
	{"isdistinct", FilterOp::IsDistinct},
};

bool
parse_filter_op(const char *text, FilterOp *op)
{
	for (const auto &entry : filter_ops)
	{
		if (strcmp(text, entry.name) == 0)
		{
			*op = entry.op;
			return true;
		}
	}
	return false;
}

const char *
filter_op_name(FilterOp op)
{
	for (const auto &entry : filter_ops)
	{
		if (entry.op == op)
			return entry.name;
	}
	return "?";
}

bool
parse_is_test(const char *text, IsTest *test)
{
	static const struct
	{
		const char *name;
		IsTest		test;
	}			tests[] = {
		{"null", IsTest::Null}, {"true", IsTest::True}, {"false", IsTest::False},
		{"unknown", IsTest::Unknown},
	};

	for (const auto &entry : tests)
	{
		if (strcmp(text, entry.name) == 0)
		{
			*test = entry.test;
			return true;
		}
	}
	return false;
}

bool
parse_action_filter(const char *text, uint8_t *actions)
{
	if (strcmp(text, "*") == 0)
		*actions = ACTION_ALL;
	else if (strcmp(text, "INSERT") == 0)
		*actions = ACTION_INSERT;
	else if (strcmp(text, "UPDATE") == 0)
		*actions = ACTION_UPDATE;
	else if (strcmp(text, "DELETE") == 0)
		*actions = ACTION_DELETE;
	else
		return false;
	return true;
}

uint32_t
NodeNames::intern(const char *name)
{
	std::string key(name);
	auto		found = numbers_.find(key);

	if (found != numbers_.end())
		return found->second;
	/* Append first: if the map insert throws, an unused name is harmless. */
	names_.push_back(key);
	uint32_t	number = static_cast<uint32_t>(names_.size() - 1);

	numbers_.emplace(std::move(key), number);
	return number;
}

/* Why a stored filter is not of the shape realtime.parse_filter writes, or NULL. */
static const char *
filter_shape_error(const FilterRow &in, FilterOp op, int nulls)
{
	IsTest		test;

	if (op == FilterOp::In)
		return NULL;			/* any number of values, NULLs included */
	if (in.nvalues != 1 || nulls != 0)
		return "has a wrong number of values";
	if (op == FilterOp::Is && !parse_is_test(in.values[0], &test))
		return "has an is value other than null, true, false or unknown";
	if ((op == FilterOp::Like || op == FilterOp::ILike || op == FilterOp::Match ||
		 op == FilterOp::IMatch) && in.oper == 0)
		return "lacks its operator";
	return NULL;
}

/* Filters as the extension stores them; anything else makes the subscription invalid. */
static void
copy_filters(const SubscriptionRow &row, Subscription &sub)
{
	for (int i = 0; i < row.nfilters; i++)
	{
		const FilterRow &in = row.filters[i];
		FilterSpec	spec;
		int			nulls = 0;
		const char *error;

		if (!parse_filter_op(in.op, &spec.op))
		{
			sub.invalid_reason = std::string("unknown filter operator \"") + in.op + "\"";
			return;
		}
		for (int v = 0; v < in.nvalues; v++)
			nulls += in.values[v] == NULL;
		error = filter_shape_error(in, spec.op, nulls);
		if (error)
		{
			sub.invalid_reason = std::string("filter on column \"") + in.column + "\" " + error;
			return;
		}
		spec.column = in.column;
		spec.negate = in.negate;
		spec.has_null = nulls > 0;
		spec.oper = in.oper;
		for (int v = 0; v < in.nvalues; v++)
		{
			if (in.values[v])
				spec.values.emplace_back(in.values[v]);
		}
		sub.filters.push_back(std::move(spec));
	}
}

/* Why a row is unusable: a column an UPDATE left out of the WAL, of an unknown row. */
static std::string
not_in_wal(const char *column)
{
	return std::string(column) + " not in the WAL and the row is unknown";
}

/* The user and the select list; unchanged TOAST values keep the previous ones. */
static void
copy_user_and_select(const SubscriptionRow &row, const Subscription *previous, Subscription &sub)
{
	if (row.user.role)
		sub.user.role = row.user.role;
	if (row.user.claims)
	{
		sub.user.claims = row.user.claims;
		sub.user.claim_sub = row.user.claim_sub;
		sub.user.claim_role = row.user.claim_role;
	}
	else if (previous)
		sub.user = previous->user;
	else
		sub.invalid_reason = not_in_wal("claims are");

	if (row.select_unchanged)
	{
		if (previous)
		{
			sub.has_select = previous->has_select;
			sub.select_columns = previous->select_columns;
		}
		else
			sub.invalid_reason = not_in_wal("select_columns are");
		return;
	}
	sub.has_select = row.has_select;
	for (int i = 0; i < row.nselect; i++)
		sub.select_columns.emplace_back(row.select_columns[i]);
}

Subscription
SubscriptionSet::from_row(const SubscriptionRow &row, const Subscription *previous,
						  NodeNames &nodes)
{
	Subscription sub;

	sub.id = row.id;
	sub.relid = row.relid;
	sub.nspid = row.nspid;
	copy_user_and_select(row, previous, sub);

	if (row.node_id)
		sub.node = nodes.intern(row.node_id);
	else if (previous)
		sub.node = previous->node;
	else
		sub.invalid_reason = not_in_wal("node_id is");

	if (row.action)
	{
		if (!parse_action_filter(row.action, &sub.actions))
			sub.invalid_reason = std::string("unknown action filter \"") + row.action + "\"";
	}
	else if (previous)
		sub.actions = previous->actions;
	else
		sub.invalid_reason = not_in_wal("action_filter is");

	if (row.filters_unchanged)
	{
		if (previous)
		{
			sub.filters = previous->filters;
			if (sub.invalid_reason.empty())
				sub.invalid_reason = previous->invalid_reason;
		}
		else
			sub.invalid_reason = not_in_wal("filters are");
	}
	else if (row.filters_error)
		sub.invalid_reason = row.filters_error;
	else if (sub.invalid_reason.empty())
		copy_filters(row, sub);

	return sub;
}

/* Removes entry's id from its watch list (swap with the last, O(1)). */
void
SubscriptionSet::unlink(const Entry &entry)
{
	auto		ids = by_key_.find(watch_key(entry.sub));

	if (ids == by_key_.end() || entry.position >= ids->second.size() ||
		ids->second[entry.position] != entry.sub.id)
		return;
	int64_t		moved = ids->second.back();

	ids->second[entry.position] = moved;
	ids->second.pop_back();
	if (moved != entry.sub.id)
	{
		auto		other = by_id_.find(moved);

		if (other != by_id_.end())
			other->second.position = entry.position;
	}
	if (ids->second.empty())
		by_key_.erase(ids);
}

WatchKey
SubscriptionSet::upsert(Subscription &&sub)
{
	auto		existing = by_id_.find(sub.id);
	const WatchKey key = watch_key(sub);

	if (existing != by_id_.end() && watch_key(existing->second.sub) == key)
	{
		existing->second.sub = std::move(sub);
		return key;
	}

	/*
	 * Listed under the new key first: if a later step throws, the extra id there is
	 * skipped by readers (they look every id up in by_id_).
	 */
	std::vector<int64_t> &ids = by_key_[key];

	ids.push_back(sub.id);
	size_t		position = ids.size() - 1;

	if (existing == by_id_.end())
	{
		int64_t		id = sub.id;

		by_id_.emplace(id, Entry{std::move(sub), position});
		return 0;
	}
	WatchKey	previous_key = watch_key(existing->second.sub);

	unlink(existing->second);
	existing->second = Entry{std::move(sub), position};
	return previous_key;
}

WatchKey
SubscriptionSet::remove(int64_t id)
{
	auto		existing = by_id_.find(id);

	dead_.erase(id);
	if (existing == by_id_.end())
		return 0;

	WatchKey	key = watch_key(existing->second.sub);

	unlink(existing->second);
	by_id_.erase(existing);
	return key;
}

void
SubscriptionSet::clear()
{
	by_id_.clear();
	by_key_.clear();
	dead_.clear();
}

const Subscription *
SubscriptionSet::find(int64_t id) const
{
	auto		found = by_id_.find(id);

	return found == by_id_.end() ? nullptr : &found->second.sub;
}

const std::vector<int64_t> *
SubscriptionSet::ids_of(WatchKey key) const
{
	auto		found = by_key_.find(key);

	return found == by_key_.end() || found->second.empty() ? nullptr : &found->second;
}
