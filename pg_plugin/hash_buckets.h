/*
 * hash_buckets.h: a flat hash table from 32-bit value hashes to runs of positions.
 *
 * Owns the lookup structure of one anchored column of a RelationIndex: for each value
 * hash, the positions of the subscriptions anchored on it. Built once, read per row.
 * Most probes are for values nobody subscribed to, so a bitmap (a one-hash Bloom
 * filter, a few kilobytes that stay in cache) answers "no" before the table is
 * touched; the table itself is open addressing over one array, one cache line per hit.
 * Pure C++ (no Postgres calls).
 */
#ifndef PG_REALTIME_HASH_BUCKETS_H
#define PG_REALTIME_HASH_BUCKETS_H

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

class HashBuckets
{
public:
	/* (hash, position) pairs, sorted by hash; positions of one hash keep their order. */
	explicit HashBuckets(const std::vector<std::pair<uint32_t, uint32_t>> &sorted);

	/* The positions stored under hash; *count is 0 (and the result NULL) if none. */
	const uint32_t *find(uint32_t hash, uint32_t *count) const
	{
		uint32_t	bit = hash & bitmap_mask_;

		*count = 0;
		if (!((bitmap_[bit >> 6] >> (bit & 63)) & 1))
			return nullptr;
		for (uint32_t i = slot_of(hash);; i = (i + 1) & slot_mask_)
		{
			const Slot &slot = slots_[i];

			if (slot.count == 0)
				return nullptr;
			if (slot.hash == hash)
			{
				*count = slot.count;
				return &positions_[slot.start];
			}
		}
	}

	size_t		distinct_hashes() const { return distinct_; }

private:
	struct Slot
	{
		uint32_t	hash;
		uint32_t	start;
		uint32_t	count;			/* 0: empty slot */
	};

	/* The table takes the high bits (Fibonacci hashing), the bitmap the low ones. */
	uint32_t	slot_of(uint32_t hash) const
	{
		return static_cast<uint32_t>((hash * 0x9E3779B1u) >> slot_shift_) & slot_mask_;
	}

	std::vector<Slot> slots_;
	uint32_t	slot_mask_ = 0;
	uint32_t	slot_shift_ = 31;
	std::vector<uint64_t> bitmap_;
	uint32_t	bitmap_mask_ = 0;
	std::vector<uint32_t> positions_;
	size_t		distinct_ = 0;
};

#endif
