// relay/protocol/rate_limit: the token bucket behind joins and events per second.
#include <gtest/gtest.h>

#include "relay/protocol/rate_limit.h"

using rt::RateLimiter;

namespace {
constexpr int64_t kT0 = 5'000'000;  // a monotonic clock well past zero
}

TEST(RateLimiter, AllowsABurstOfOneSecondsWorthThenRefuses) {
    RateLimiter r(10);
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(r.allow(kT0)) << i;
    EXPECT_FALSE(r.allow(kT0));
    EXPECT_FALSE(r.allow(kT0));
}

TEST(RateLimiter, RefillsAtTheRate) {
    RateLimiter r(10);
    for (int i = 0; i < 10; ++i) r.allow(kT0);
    EXPECT_FALSE(r.allow(kT0 + 50));   // half a token earned
    EXPECT_TRUE(r.allow(kT0 + 100));   // one token after 1/rate s
    EXPECT_FALSE(r.allow(kT0 + 100));
    EXPECT_TRUE(r.allow(kT0 + 300));   // two more earned
    EXPECT_TRUE(r.allow(kT0 + 300));
    EXPECT_FALSE(r.allow(kT0 + 300));
}

TEST(RateLimiter, BurstIsCappedAfterALongIdle) {
    RateLimiter r(5);
    r.allow(kT0);
    int allowed = 0;
    for (int i = 0; i < 50; ++i) allowed += r.allow(kT0 + 3'600'000);
    EXPECT_EQ(allowed, 5);
}

TEST(RateLimiter, SteadyTrafficAtTheRateIsNeverRefused) {
    RateLimiter r(100);
    for (int i = 0; i < 2000; ++i) ASSERT_TRUE(r.allow(kT0 + i * 10)) << "event " << i;
}

TEST(RateLimiter, TrafficAtTwiceTheRateIsHalved) {
    RateLimiter r(100);
    int allowed = 0;
    const int seconds = 10;
    for (int i = 0; i < 200 * seconds; ++i) allowed += r.allow(kT0 + i * 5);
    // rate * seconds plus the initial burst, give or take one.
    EXPECT_GE(allowed, 100 * seconds + 100 - 2);
    EXPECT_LE(allowed, 100 * seconds + 100 + 1);
}

TEST(RateLimiter, ClockGoingBackwardsEarnsNothing) {
    RateLimiter r(2);
    EXPECT_TRUE(r.allow(kT0));
    EXPECT_TRUE(r.allow(kT0));
    EXPECT_FALSE(r.allow(kT0 - 10'000));
    EXPECT_FALSE(r.allow(kT0));
}

TEST(RateLimiter, RateOfOne) {
    RateLimiter r(1);
    EXPECT_TRUE(r.allow(kT0));
    EXPECT_FALSE(r.allow(kT0 + 999));
    EXPECT_TRUE(r.allow(kT0 + 1000));
}

TEST(RateLimiter, ABatchIsWithinTooManyOrExhausted) {
    RateLimiter r(100);
    EXPECT_EQ(r.allow_batch(kT0, 1000), RateLimiter::Batch::TooMany);
    EXPECT_EQ(r.allow_batch(kT0, 60), RateLimiter::Batch::Within);
    EXPECT_EQ(r.allow_batch(kT0, 60), RateLimiter::Batch::TooMany);  // 40 left: nothing counted
    EXPECT_EQ(r.allow_batch(kT0, 40), RateLimiter::Batch::Within);
    EXPECT_EQ(r.allow_batch(kT0, 1), RateLimiter::Batch::Exhausted);
    EXPECT_FALSE(r.idle(kT0 + 500));
    EXPECT_TRUE(r.idle(kT0 + 1000));
}
