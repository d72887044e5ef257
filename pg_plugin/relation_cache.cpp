/*
 * relation_cache.cpp: per-relation state of a decoding session (see relation_cache.h).
 */
#include "relation_cache.h"
#include "subscription_access.h"

RelationCache::~RelationCache()
{
	/*
	 * Teardown runs when Postgres deletes the decoding context, which deletes our
	 * memory contexts itself: only the C++ objects are ours to free here.
	 */
	for (auto &item : entries_)
	{
		if (item.second)
			delete item.second->index;
		delete item.second;
	}
}

static bool
watches(const RelationEntry *entry, WatchKey key)
{
	for (int i = 0; i < entry->nwatched; i++)
	{
		if (entry->watched[i] == key)
			return true;
	}
	return false;
}

void
RelationCache::invalidate(Oid relid) noexcept
{
	/* A partition's entry depends on its ancestors' privileges and policies too. */
	for (auto &item : entries_)
	{
		RelationEntry *entry = item.second;

		if (entry && (!OidIsValid(relid) || entry->relid == relid ||
					  watches(entry, table_key(relid))))
		{
			entry->stale = true;
			any_stale_ = true;
		}
	}
}

void
RelationCache::subscriptions_changed(WatchKey key) noexcept
{
	for (auto &item : entries_)
	{
		RelationEntry *entry = item.second;

		if (entry && watches(entry, key))
			entry->subscriptions_version++;
	}
}

void
RelationCache::all_subscriptions_changed() noexcept
{
	for (auto &item : entries_)
	{
		if (item.second)
			item.second->subscriptions_version++;
	}
}

void
RelationCache::drop_index(RelationEntry *entry)
{
	RelationIndex *index = entry->index;

	entry->index = nullptr;
	entry->index_version = 0;
	if (index)
	{
		MemoryContextDelete(index->memory());
		delete index;
	}
}

void
RelationCache::release(RelationEntry *entry)
{
	drop_index(entry);
	if (entry->memory)
		MemoryContextDelete(entry->memory);
	entry->memory = nullptr;
	entry->shape = nullptr;
	entry->watched = nullptr;
	entry->nwatched = 0;
	entry->templates = nullptr;
	entry->ntemplates = 0;
	entry->template_capacity = 0;
}

/* Frees the entries invalidated since the last lookup (dropped tables included). */
void
RelationCache::sweep_stale()
{
	any_stale_ = false;
	for (auto item = entries_.begin(); item != entries_.end();)
	{
		RelationEntry *entry = item->second;

		if (entry && !entry->stale)
		{
			++item;
			continue;
		}
		if (entry)
		{
			release(entry);
			delete entry;
		}
		item = entries_.erase(item);
	}
}

/*
 * Whether the publication supabase_realtime covers rel, as the catalog of the change has
 * it: FOR ALL TABLES, or listing rel, one of its ancestors, or its schema.
 */
static bool
in_realtime_publication(Relation rel, List *ancestors)
{
	Oid			pubid = get_publication_oid("supabase_realtime", true);
	ListCell   *cell;

	if (!OidIsValid(pubid))
		return false;
	if (GetPublication(pubid)->alltables ||
		list_member_oid(GetRelationPublications(RelationGetRelid(rel)), pubid) ||
		list_member_oid(GetSchemaPublications(RelationGetNamespace(rel)), pubid))
		return true;
	foreach(cell, ancestors)
	{
		if (list_member_oid(GetRelationPublications(lfirst_oid(cell)), pubid))
			return true;
	}
	return false;
}

/*
 * What the subscriptions that apply to rel watch: rel and its partition ancestors (by
 * name), and rel's schema (whole-schema bindings) when the publication covers rel.
 */
static void
find_watched(Relation rel, RelationEntry *entry)
{
	List	   *ancestors = NIL;
	ListCell   *cell;
	int			n = 0;

	if (rel->rd_rel->relispartition)
		ancestors = get_partition_ancestors(RelationGetRelid(rel));
	entry->watched = (WatchKey *) palloc(sizeof(WatchKey) * (2 + list_length(ancestors)));
	entry->watched[n++] = table_key(RelationGetRelid(rel));
	foreach(cell, ancestors)
		entry->watched[n++] = table_key(lfirst_oid(cell));
	if (in_realtime_publication(rel, ancestors))
		entry->watched[n++] = schema_key(RelationGetNamespace(rel));
	entry->nwatched = n;
	list_free(ancestors);
}

void
RelationCache::build(RelationEntry *entry, Relation rel)
{
	MemoryContext memory = AllocSetContextCreate(parent_, "pg_realtime relation",
												 ALLOCSET_SMALL_SIZES);
	MemoryContext old;

	entry->memory = memory;
	entry->stale = false;
	old = MemoryContextSwitchTo(memory);
	if (relation_is_subscription_table(rel) &&
		subscription_layout(RelationGetDescr(rel), &entry->layout))
		entry->kind = RelationKind::Subscriptions;
	else if (relation_is_message_partition(rel))
	{
		entry->kind = RelationKind::Messages;
		message_layout(rel, &entry->messages);
	}
	else
	{
		entry->kind = RelationKind::User;
		entry->shape = relation_shape_create(rel, arrays_as_json_);
		find_watched(rel, entry);
	}
	MemoryContextSwitchTo(old);
}

RelationEntry *
RelationCache::entry_for(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);

	if (last_ && last_->relid == relid && !last_->stale && !any_stale_)
		return last_;
	last_ = nullptr;
	if (any_stale_)
		sweep_stale();

	/* A null slot (if new threw) reads as absent and is filled here. */
	RelationEntry *&slot = entries_[relid];

	if (slot && !slot->stale)
		return last_ = slot;
	if (slot == nullptr)
	{
		slot = new RelationEntry();
		slot->relid = relid;
	}
	else
		release(slot);
	build(slot, rel);
	return last_ = slot;
}

/* The subscriptions that apply to the entry's relation, as plain pointers (the dead left out). */
const Subscription **
RelationCache::collect(RelationEntry *entry, const SubscriptionSet &subscriptions, int *count)
{
	const Subscription **subs;
	int			n = 0;

	for (int i = 0; i < entry->nwatched; i++)
	{
		const std::vector<int64_t> *ids = subscriptions.ids_of(entry->watched[i]);

		n += ids ? (int) ids->size() : 0;
	}
	*count = 0;
	if (n == 0)
		return nullptr;
	subs = (const Subscription **) palloc(sizeof(Subscription *) * n);
	for (int i = 0; i < entry->nwatched; i++)
	{
		const std::vector<int64_t> *ids = subscriptions.ids_of(entry->watched[i]);

		if (ids == nullptr)
			continue;
		for (int64_t id : *ids)
		{
			const Subscription *sub = subscriptions.find(id);

			if (sub && !subscriptions.is_dead(id))
				subs[(*count)++] = sub;
		}
	}
	return subs;
}

const RelationIndex *
RelationCache::index_for(RelationEntry *entry, Relation rel, const SubscriptionSet &subscriptions)
{
	uint64		version = entry->subscriptions_version;
	int			count;
	const Subscription **subs;
	const SubscriptionAccess *access;
	MemoryContext memory;
	MemoryContext old;
	CompiledSet *compiled;

	if (entry->index_version == version)
		return entry->index;
	drop_index(entry);

	/* The subscriptions, as plain pointers in per-change memory. */
	subs = collect(entry, subscriptions, &count);
	if (count == 0)
	{
		entry->index_version = version;
		return nullptr;
	}
	access = subscription_access_resolve(entry, rel, subs, count);

	memory = AllocSetContextCreate(entry->memory, "pg_realtime index", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(memory);
	compiled = compile_subscriptions(rel, entry->shape, subs, access, count);
	MemoryContextSwitchTo(old);

	entry->index = new RelationIndex(memory, compiled);
	entry->index_version = version;
	return entry->index;
}
