/*
 * relation_cache.cpp: per-relation state of a decoding session (see relation_cache.h).
 */
#include "relation_cache.h"

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

void
RelationCache::invalidate(Oid relid) noexcept
{
	if (!OidIsValid(relid))
	{
		for (auto &item : entries_)
		{
			if (item.second)
				item.second->stale = true;
		}
		any_stale_ = true;
		return;
	}
	auto		found = entries_.find(relid);

	if (found != entries_.end() && found->second)
	{
		found->second->stale = true;
		any_stale_ = true;
	}
}

void
RelationCache::subscriptions_changed(Oid relid) noexcept
{
	for (auto &item : entries_)
	{
		RelationEntry *entry = item.second;

		if (entry == nullptr)
			continue;
		for (int i = 0; i < entry->nsubscribable; i++)
		{
			if (entry->subscribable[i] == relid)
				entry->subscriptions_version++;
		}
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
	entry->subscribable = nullptr;
	entry->nsubscribable = 0;
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

/* The relations whose subscriptions apply to rel: rel and its partition ancestors. */
static void
find_subscribable(Relation rel, RelationEntry *entry)
{
	List	   *ancestors = NIL;
	ListCell   *cell;
	int			n = 0;

	if (rel->rd_rel->relispartition)
		ancestors = get_partition_ancestors(RelationGetRelid(rel));
	entry->subscribable = (Oid *) palloc(sizeof(Oid) * (1 + list_length(ancestors)));
	entry->subscribable[n++] = RelationGetRelid(rel);
	foreach(cell, ancestors)
		entry->subscribable[n++] = lfirst_oid(cell);
	entry->nsubscribable = n;
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
	else
	{
		entry->kind = RelationKind::User;
		entry->shape = relation_shape_create(rel, arrays_as_json_);
		find_subscribable(rel, entry);
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

const RelationIndex *
RelationCache::index_for(RelationEntry *entry, Relation rel, const SubscriptionSet &subscriptions)
{
	uint64		version = entry->subscriptions_version;
	int			count = 0;
	const Subscription **subs;
	MemoryContext memory;
	MemoryContext old;
	CompiledSet *compiled;

	if (entry->index_version == version)
		return entry->index;
	drop_index(entry);

	for (int i = 0; i < entry->nsubscribable; i++)
	{
		const std::vector<int64_t> *ids = subscriptions.ids_of(entry->subscribable[i]);

		count += ids ? (int) ids->size() : 0;
	}
	if (count == 0)
	{
		entry->index_version = version;
		return nullptr;
	}

	/* The subscriptions, as plain pointers in per-change memory. */
	subs = (const Subscription **) palloc(sizeof(Subscription *) * count);
	count = 0;
	for (int i = 0; i < entry->nsubscribable; i++)
	{
		const std::vector<int64_t> *ids = subscriptions.ids_of(entry->subscribable[i]);

		if (ids == nullptr)
			continue;
		for (int64_t id : *ids)
		{
			const Subscription *sub = subscriptions.find(id);

			if (sub)
				subs[count++] = sub;
		}
	}

	memory = AllocSetContextCreate(entry->memory, "pg_realtime index", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(memory);
	compiled = compile_subscriptions(RelationGetDescr(rel), RelationGetRelationName(rel),
									 subs, count);
	MemoryContextSwitchTo(old);

	entry->index = new RelationIndex(memory, compiled);
	entry->index_version = version;
	return entry->index;
}
