// relay/core/node_stats: rates and latency quantiles between two readings of a node.
#include <gtest/gtest.h>

#include "relay/core/node_stats.h"

using namespace rt;

namespace {

std::vector<uint64_t> buckets(std::initializer_list<std::pair<size_t, uint64_t>> counts) {
    std::vector<uint64_t> b(LatencyHistogram::kBoundsMs.size() + 1, 0);
    for (auto [i, n] : counts) b[i] = n;
    return b;
}

}  // namespace

TEST(NodeStats, ReadsTheMetrics) {
    Metrics m;
    m.connections = 7;
    m.messages_in += 3;
    m.broadcast_deliveries += 10;
    m.changes_delivered += 5;
    m.slot_lag_ms = 40;
    m.decode_to_send.observe_ms(0.3);  // bucket (0.25, 0.5]
    NodeReading r = read_node(m, 1000);
    EXPECT_EQ(r.at_ms, 1000);
    EXPECT_EQ(r.connections, 7);
    EXPECT_EQ(r.messages_in, 3u);
    EXPECT_EQ(r.deliveries, 15u) << "broadcast and postgres_changes deliveries";
    EXPECT_EQ(r.slot_lag_ms, 40);
    ASSERT_EQ(r.latency.size(), LatencyHistogram::kBoundsMs.size() + 1);
    EXPECT_EQ(r.latency[2], 1u);
}

TEST(NodeStats, RatesArePerSecondOfTheReadingsClock) {
    NodeReading a, b;
    a.at_ms = 10'000;
    b.at_ms = 12'000;
    a.messages_in = 100;
    b.messages_in = 300;
    a.deliveries = 0;
    b.deliveries = 5000;
    NodeRates r = rates_between(a, b);
    EXPECT_DOUBLE_EQ(r.messages_in, 100);
    EXPECT_DOUBLE_EQ(r.deliveries, 2500);
    EXPECT_EQ(r.latency_p50_ms, -1) << "nothing was delivered";
}

TEST(NodeStats, NoTimeOrARestartGivesNoRates) {
    NodeReading a, b;
    a.at_ms = b.at_ms = 5;
    b.messages_in = 10;
    EXPECT_DOUBLE_EQ(rates_between(a, b).messages_in, 0);
    a.at_ms = 0;
    a.messages_in = 50;  // counters went back: another life of the node
    EXPECT_DOUBLE_EQ(rates_between(a, b).messages_in, 0);
}

TEST(NodeStats, QuantilesInterpolateWithinTheirBucket) {
    auto before = buckets({{3, 10}});
    // 100 new observations: 50 in (0.5, 1], 49 in (1, 2], 1 in (100, 250].
    auto now = buckets({{3, 60}, {4, 49}, {10, 1}});
    EXPECT_DOUBLE_EQ(quantile_ms(before, now, 0.5), 1.0);
    double p99 = quantile_ms(before, now, 0.99);
    EXPECT_GT(p99, 1.0);
    EXPECT_LE(p99, 2.0);
    EXPECT_DOUBLE_EQ(quantile_ms(before, now, 1.0), 250.0);
    EXPECT_EQ(quantile_ms(now, now, 0.5), -1) << "no observation in between";
}

TEST(NodeStats, TheOpenBucketReportsItsFloor) {
    auto now = buckets({{LatencyHistogram::kBoundsMs.size(), 4}});
    EXPECT_DOUBLE_EQ(quantile_ms({}, now, 0.5), LatencyHistogram::kBoundsMs.back());
}
