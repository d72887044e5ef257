// cluster/slot_election: who may take the slot and who must give it back.
#include <gtest/gtest.h>

#include "cluster/slot_election.h"

using rt::cluster::ElectionFacts;
using rt::cluster::may_take;
using rt::cluster::must_release;
using rt::cluster::sees_majority;

namespace {

ElectionFacts away(int64_t now, int64_t started, int64_t last_holder, bool competitor_up) {
    ElectionFacts f;
    f.in_slot_region = false;
    f.now_ms = now;
    f.started_ms = started;
    f.last_region_holder_ms = last_holder;
    f.region_competitor_up = competitor_up;
    f.takeover_ms = 5000;
    return f;
}

}  // namespace

TEST(SlotElection, RelayInTheSlotRegionMayAlwaysTake) {
    ElectionFacts f;
    f.in_slot_region = true;
    f.region_competitor_up = true;
    f.now_ms = 10;
    f.started_ms = 10;
    f.last_region_holder_ms = 10;
    f.takeover_ms = 5000;
    EXPECT_TRUE(may_take(f));
    EXPECT_FALSE(must_release(f));
}

TEST(SlotElection, ElsewhereNeverTakesWhileARegionCompetitorIsUp) {
    EXPECT_FALSE(may_take(away(1'000'000, 0, 0, true)));
    EXPECT_TRUE(must_release(away(1'000'000, 0, 0, true)));
}

TEST(SlotElection, ElsewhereWaitsTheTakeoverDelayAfterItsStart) {
    EXPECT_FALSE(may_take(away(104'999, 100'000, 0, false)));
    EXPECT_TRUE(may_take(away(105'000, 100'000, 0, false)));
    EXPECT_FALSE(must_release(away(105'000, 100'000, 0, false)));
}

TEST(SlotElection, ElsewhereWaitsTheTakeoverDelayAfterTheRegionLastHeldIt) {
    // Started long ago; the region's holder was last seen holding at 200'000.
    EXPECT_FALSE(may_take(away(204'999, 100'000, 200'000, false)));
    EXPECT_TRUE(may_take(away(205'000, 100'000, 200'000, false)));
}

TEST(SlotElection, TheLaterOfStartAndLastHolderCounts) {
    // The region held it before this relay started: the start counts.
    EXPECT_FALSE(may_take(away(104'000, 100'000, 50'000, false)));
    EXPECT_TRUE(may_take(away(105'000, 100'000, 50'000, false)));
}

TEST(SlotElection, AMajorityOfTheLiveNodesIsMoreThanHalf) {
    EXPECT_TRUE(sees_majority("a", {}, {}));                    // alone, nobody else live
    EXPECT_TRUE(sees_majority("a", {"b", "c"}, {"b"}));        // 2 of 3
    EXPECT_FALSE(sees_majority("a", {"b", "c"}, {}));          // cut off: 1 of 3
    EXPECT_TRUE(sees_majority("b", {"a", "c"}, {"c"}));        // the other side of that cut
    EXPECT_FALSE(sees_majority("c", {"a", "b", "d", "e"}, {"d"}));  // 2 of 5
    // A peer heard but not (yet) in the registry still counts as live.
    EXPECT_TRUE(sees_majority("a", {"b"}, {"c", "d"}));        // 3 of 4
    EXPECT_TRUE(sees_majority("a", {"b", "c"}, {"d", "b"}));   // 3 of 4
}

TEST(SlotElection, HalfTheLiveNodesIsAMajorityOnlyWithTheLowestId) {
    EXPECT_TRUE(sees_majority("a", {"b"}, {}));    // two nodes apart: a keeps streaming
    EXPECT_FALSE(sees_majority("b", {"a"}, {}));   // b waits
    EXPECT_TRUE(sees_majority("b", {"a", "c", "d"}, {"a"}));
    EXPECT_FALSE(sees_majority("c", {"a", "b", "d"}, {"d"}));
}

TEST(SlotElection, WithoutAMajorityARelayNeitherTakesNorKeepsTheSlot) {
    ElectionFacts f;
    f.in_slot_region = true;
    f.majority = false;
    EXPECT_FALSE(may_take(f));
    EXPECT_TRUE(must_release(f));
    f.majority = true;
    EXPECT_TRUE(may_take(f));
    EXPECT_FALSE(must_release(f));
    ElectionFacts far = away(1'000'000, 0, 0, false);
    far.majority = false;
    EXPECT_FALSE(may_take(far));  // past the region takeover delay, still not without a majority
    EXPECT_TRUE(must_release(far));
}
