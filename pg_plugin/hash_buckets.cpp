/*
 * hash_buckets.cpp: builds the flat hash table of an anchored column (see
 * hash_buckets.h). Pure C++.
 */
#include "hash_buckets.h"

/* The smallest b in [minimum, maximum] with 2^b >= n. */
static uint32_t
log2_at_least(size_t n, uint32_t minimum, uint32_t maximum)
{
	uint32_t	bits = minimum;

	while (bits < maximum && (size_t(1) << bits) < n)
		bits++;
	return bits;
}

HashBuckets::HashBuckets(const std::vector<std::pair<uint32_t, uint32_t>> &sorted)
{
	for (size_t i = 0; i < sorted.size(); i++)
	{
		if (i == 0 || sorted[i].first != sorted[i - 1].first)
			distinct_++;
	}

	/* At most half full, so that probe sequences stay short. */
	uint32_t	slot_bits = log2_at_least(2 * distinct_, 3, 30);

	slots_.assign(size_t(1) << slot_bits, Slot{0, 0, 0});
	slot_mask_ = (uint32_t(1) << slot_bits) - 1;
	slot_shift_ = 32 - slot_bits;

	/* About 16 bits per hash (a few percent of false positives), 64 bits to 128 KiB. */
	uint32_t	bitmap_bits = log2_at_least(16 * distinct_, 6, 20);

	bitmap_.assign((size_t(1) << bitmap_bits) / 64, 0);
	bitmap_mask_ = (uint32_t(1) << bitmap_bits) - 1;

	positions_.reserve(sorted.size());
	for (size_t start = 0; start < sorted.size();)
	{
		uint32_t	hash = sorted[start].first;
		size_t		end = start;

		while (end < sorted.size() && sorted[end].first == hash)
			positions_.push_back(sorted[end++].second);

		uint32_t	bit = hash & bitmap_mask_;
		uint32_t	slot = slot_of(hash);

		bitmap_[bit >> 6] |= uint64_t(1) << (bit & 63);
		while (slots_[slot].count != 0)
			slot = (slot + 1) & slot_mask_;
		slots_[slot] = Slot{hash, static_cast<uint32_t>(start), static_cast<uint32_t>(end - start)};
		start = end;
	}
}
