// A token bucket: `rate` events per second on average, bursts of up to one second's worth.
#pragma once

#include <cstdint>

namespace rt {

class RateLimiter {
public:
    RateLimiter() = default;
    explicit RateLimiter(int rate_per_s) : rate_(rate_per_s), tokens_(rate_per_s) {}

    // True if an event at now_ms is within the rate (and counts it).
    bool allow(int64_t now_ms) {
        refill(now_ms);
        if (tokens_ < 1.0f) return false;
        tokens_ -= 1.0f;
        return true;
    }

    // A batch of n events at once (the HTTP API), as Supabase's check_rate_limit:
    // Exhausted when nothing is left, TooMany when n would exceed what is left (neither
    // counts anything), else Within (all n counted).
    enum class Batch { Within, TooMany, Exhausted };
    Batch allow_batch(int64_t now_ms, int64_t n) {
        refill(now_ms);
        if (tokens_ < 1.0f) return Batch::Exhausted;
        if (static_cast<float>(n) > tokens_) return Batch::TooMany;
        tokens_ -= static_cast<float>(n);
        return Batch::Within;
    }
    // Whether the bucket is full at now_ms (an idle limiter, as good as a new one).
    bool idle(int64_t now_ms) {
        refill(now_ms);
        return tokens_ >= static_cast<float>(rate_);
    }

private:
    void refill(int64_t now_ms) {
        if (last_ms_ == 0) last_ms_ = now_ms;
        float earned = static_cast<float>(now_ms - last_ms_) * static_cast<float>(rate_) / 1000.0f;
        if (earned > 0) {
            tokens_ = tokens_ + earned > rate_ ? static_cast<float>(rate_) : tokens_ + earned;
            last_ms_ = now_ms;
        }
    }

    int rate_ = 0;
    float tokens_ = 0;
    int64_t last_ms_ = 0;
};

}  // namespace rt
