// Owns: bucket arithmetic and quantile lookup of Histogram (see histogram.h).
#include "bench/loadgen/histogram.h"

#include <algorithm>

namespace lg {

namespace {
constexpr unsigned kSubBits = 7;                      // 128 sub-buckets per octave
constexpr uint64_t kHalf = 1ull << kSubBits;          // 128
constexpr uint64_t kExact = kHalf << 1;               // values below 256 are exact
constexpr size_t kBuckets = kExact + (64 - kSubBits - 1) * kHalf;
}  // namespace

Histogram::Histogram() : counts_(kBuckets, 0) {}

size_t Histogram::bucket_index(uint64_t v) {
    if (v < kExact) return size_t(v);
    unsigned msb = 63u - unsigned(__builtin_clzll(v));
    unsigned shift = msb - kSubBits;                  // >= 1
    uint64_t sub = v >> shift;                        // in [128, 256)
    return size_t(kExact + (shift - 1) * kHalf + (sub - kHalf));
}

uint64_t Histogram::bucket_high(size_t idx) {
    if (idx < kExact) return idx;
    size_t rel = idx - kExact;
    unsigned shift = unsigned(rel / kHalf) + 1;
    uint64_t sub = kHalf + rel % kHalf;
    return ((sub + 1) << shift) - 1;
}

void Histogram::record(int64_t value) {
    if (value < 0) value = 0;
    counts_[bucket_index(uint64_t(value))]++;
    if (count_ == 0 || value < min_) min_ = value;
    if (count_ == 0 || value > max_) max_ = value;
    count_++;
    sum_ += value;
}

void Histogram::merge(const Histogram& other) {
    if (other.count_ == 0) return;
    for (size_t i = 0; i < kBuckets; i++) counts_[i] += other.counts_[i];
    if (count_ == 0 || other.min_ < min_) min_ = other.min_;
    if (count_ == 0 || other.max_ > max_) max_ = other.max_;
    count_ += other.count_;
    sum_ += other.sum_;
}

int64_t Histogram::quantile(double q) const {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    uint64_t rank = uint64_t(q * double(count_) + 0.5);
    rank = std::clamp<uint64_t>(rank, 1, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; i++) {
        seen += counts_[i];
        if (seen >= rank) {
            int64_t v = int64_t(bucket_high(i));
            return std::clamp(v, min_, max_);
        }
    }
    return max_;
}

}  // namespace lg
