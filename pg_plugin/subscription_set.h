/*
 * subscription_set.h: the raw subscriptions a decoding session knows about.
 *
 * Owns the in-memory copy of realtime.subscription: one Subscription per row, by id
 * and by relation, and the interned node ids. It is pure C++ (no Postgres calls), so
 * every mutation either completes or throws std::bad_alloc, never longjmps halfway.
 * Rows reach it as SubscriptionRow, plain data read from tuples by
 * subscription_catalog.cpp. Compiling subscriptions against a relation's columns is
 * subscription_index.cpp's job.
 */
#ifndef PG_REALTIME_SUBSCRIPTION_SET_H
#define PG_REALTIME_SUBSCRIPTION_SET_H

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

/* Supabase's filter operators (realtime.subscription.filters "op"). */
enum class FilterOp : uint8_t
{
	Eq, Neq, Lt, Lte, Gt, Gte, In, Like, ILike, Match, IMatch, Is, IsDistinct
};

/* The right-hand side of an "is" filter. */
enum class IsTest : uint8_t
{
	Null, True, False, Unknown
};

/* Bits of a subscription's action filter, also used as the kind of a change. */
enum : uint8_t
{
	ACTION_INSERT = 1,
	ACTION_UPDATE = 2,
	ACTION_DELETE = 4,
	ACTION_ALL = ACTION_INSERT | ACTION_UPDATE | ACTION_DELETE
};

bool		parse_filter_op(const char *text, FilterOp *op);
const char *filter_op_name(FilterOp op);
bool		parse_is_test(const char *text, IsTest *test);
bool		parse_action_filter(const char *text, uint8_t *actions);

/* ---- plain data read from one row of realtime.subscription ---- */

struct FilterRow
{
	const char *column;
	const char *op;
	const char *const *values;	/* NULL elements are SQL NULLs (in lists only) */
	int			nvalues;
	bool		negate;			/* "not": the not. prefix */
	uint32_t	oper;			/* "operator": pattern operators' pg_operator OID, or 0 */
};

struct SubscriptionRow
{
	int64_t		id;
	const char *node_id;		/* NULL: unchanged TOAST value, keep the known one */
	uint32_t	relid;
	const char *action;			/* NULL: as node_id */
	const FilterRow *filters;
	int			nfilters;
	bool		filters_unchanged;	/* unchanged TOAST value, keep the known filters */
	const char *filters_error;	/* non-NULL: the filters column is not of the expected shape */
};

/* ---- the in-memory subscriptions ---- */

struct FilterSpec
{
	std::string column;
	FilterOp	op;
	bool		negate = false;
	bool		has_null = false;	/* an in list holding NULL (its NULLs are not in values) */
	uint32_t	oper = 0;		/* pattern operators: the pg_operator OID */
	std::vector<std::string> values;
};

struct Subscription
{
	int64_t		id = 0;
	uint32_t	node = 0;		/* index into NodeNames */
	uint32_t	relid = 0;
	uint8_t		actions = ACTION_ALL;
	std::vector<FilterSpec> filters;
	/* Why the stored row cannot be used (it then matches nothing); empty if it can. */
	std::string invalid_reason;
};

/* Node ids interned to small numbers: subscriptions and matches carry the number. */
class NodeNames
{
public:
	uint32_t	intern(const char *name);
	const std::string &name(uint32_t node) const { return names_[node]; }

private:
	std::vector<std::string> names_;
	std::unordered_map<std::string, uint32_t> numbers_;
};

class SubscriptionSet
{
public:
	/*
	 * Builds the Subscription a row describes. `previous` is the subscription with the
	 * same id, if known: an UPDATE whose unchanged TOAST columns are not in the WAL
	 * keeps their previous values.
	 */
	static Subscription from_row(const SubscriptionRow &row, const Subscription *previous,
								 NodeNames &nodes);

	/* Inserts or replaces by id. Returns the relation the id belonged to before, or 0. */
	uint32_t	upsert(Subscription &&sub);
	/* Removes by id. Returns the relation it belonged to, or 0 if it was unknown. */
	uint32_t	remove(int64_t id);
	void		clear();

	const Subscription *find(int64_t id) const;
	/* Ids of the subscriptions on relid, in no particular order; NULL if none. */
	const std::vector<int64_t> *ids_of(uint32_t relid) const;
	size_t		size() const { return by_id_.size(); }
	void		reserve(size_t count) { by_id_.reserve(count); }

private:
	struct Entry
	{
		Subscription sub;
		size_t		position;	/* in by_relid_[sub.relid] */
	};

	void		unlink(const Entry &entry);

	std::unordered_map<int64_t, Entry> by_id_;
	std::unordered_map<uint32_t, std::vector<int64_t>> by_relid_;
};

#endif
