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
#include <unordered_set>
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

/*
 * The user a subscription is decided for (design 3.6): the role every access check is
 * made for, and the values of the settings Supabase sets for it
 * (docs/architecture.md, "Row level security": request.jwt.claims is the claims' jsonb
 * text, request.jwt.claim.sub and request.jwt.claim.role their "sub" and "role" as ->>
 * gives them, '' when absent).
 */
struct UserRow
{
	const char *role;			/* claims_role */
	const char *claims;			/* NULL: unchanged TOAST value, keep the known ones */
	const char *claim_sub;
	const char *claim_role;
};

struct SubscriptionRow
{
	int64_t		id;
	const char *node_id;		/* NULL: unchanged TOAST value, keep the known one */
	uint32_t	relid;			/* the table, or 0 for a whole-schema binding */
	uint32_t	nspid;			/* the schema of a whole-schema binding, else 0 */
	const char *action;			/* NULL: as node_id */
	const FilterRow *filters;
	int			nfilters;
	bool		filters_unchanged;	/* unchanged TOAST value, keep the known filters */
	const char *filters_error;	/* non-NULL: the filters column is not of the expected shape */
	UserRow		user;
	/* The select option; has_select false sends every column. */
	bool		has_select;
	bool		select_unchanged;	/* unchanged TOAST value, keep the known list */
	const char *const *select_columns;
	int			nselect;
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

struct SubscriptionUser
{
	std::string role;
	std::string claims;
	std::string claim_sub;
	std::string claim_role;
};

struct Subscription
{
	int64_t		id = 0;
	uint32_t	node = 0;		/* index into NodeNames */
	uint32_t	relid = 0;		/* 0 for a whole-schema binding */
	uint32_t	nspid = 0;		/* its schema */
	uint8_t		actions = ACTION_ALL;
	std::vector<FilterSpec> filters;
	SubscriptionUser user;
	bool		has_select = false;
	std::vector<std::string> select_columns;
	/* Why the stored row cannot be used (it then matches nothing); empty if it can. */
	std::string invalid_reason;
};

/*
 * What a subscription watches: a table (its relid) or a schema (its namespace OID in
 * the high half): the key of SubscriptionSet's lists and of the relation cache's
 * invalidations.
 */
using WatchKey = uint64_t;

inline WatchKey
table_key(uint32_t relid)
{
	return relid;
}

inline WatchKey
schema_key(uint32_t nspid)
{
	return uint64_t(nspid) << 32;
}

inline WatchKey
watch_key(const Subscription &sub)
{
	return sub.relid != 0 ? table_key(sub.relid) : schema_key(sub.nspid);
}

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

	/*
	 * Inserts or replaces by id. Returns what the id watched before (0 if it is new),
	 * so both the old and the new key can be invalidated.
	 */
	WatchKey	upsert(Subscription &&sub);
	/* Removes by id. Returns what it watched, or 0 if it was unknown. */
	WatchKey	remove(int64_t id);
	void		clear();

	const Subscription *find(int64_t id) const;
	/* Ids of the subscriptions watching key, in no particular order; NULL if none. */
	const std::vector<int64_t> *ids_of(WatchKey key) const;
	size_t		size() const { return by_id_.size(); }
	void		reserve(size_t count) { by_id_.reserve(count); }

	/*
	 * A subscription reported as having lost access (or failed) matches nothing more in
	 * this session, even if access comes back: the relay has told its client it ended.
	 */
	void		mark_dead(int64_t id) { dead_.insert(id); }
	bool		is_dead(int64_t id) const { return !dead_.empty() && dead_.count(id) != 0; }

private:
	struct Entry
	{
		Subscription sub;
		size_t		position;	/* in by_key_[watch_key(sub)] */
	};

	void		unlink(const Entry &entry);

	std::unordered_map<int64_t, Entry> by_id_;
	std::unordered_map<WatchKey, std::vector<int64_t>> by_key_;
	std::unordered_set<int64_t> dead_;
};

#endif
