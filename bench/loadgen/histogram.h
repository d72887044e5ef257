// Owns: a latency histogram with logarithmic buckets (HdrHistogram-style): values below
// 256 are exact, above that each power of two is split into 128 linear sub-buckets, so
// any recorded value is known within 1/128 (< 0.8 %). Fixed size, no allocation while
// recording; histograms of different threads merge by adding counts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lg {

class Histogram {
public:
    Histogram();
    void record(int64_t value);            // negative values are clamped to 0
    void merge(const Histogram& other);
    uint64_t count() const { return count_; }
    int64_t min() const { return count_ ? min_ : 0; }
    int64_t max() const { return count_ ? max_ : 0; }
    double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }
    // Value at quantile q in [0,1]: the highest value equivalent to the bucket that holds
    // the q-th recorded value, clamped to [min, max].
    int64_t quantile(double q) const;

    static size_t bucket_index(uint64_t v);
    static uint64_t bucket_high(size_t idx);  // highest value that maps to idx

private:
    std::vector<uint64_t> counts_;
    uint64_t count_ = 0;
    int64_t min_ = 0;
    int64_t max_ = 0;
    __int128 sum_ = 0;
};

}  // namespace lg
