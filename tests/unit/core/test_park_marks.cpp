// relay/core/park_marks: the parked states of a burst go to the database in few batches,
// one write at a time, each id's last word winning.
#include <gtest/gtest.h>

#include <algorithm>

#include "relay/core/park_marks.h"

using namespace rt;

TEST(ParkMarks, AStormIsTwoBatchesTheFirstAtOnceTheRestWhileItIsWritten) {
    ParkMarks marks;
    marks.mark(1, 1000);
    EXPECT_TRUE(marks.start()) << "the first park starts a write";
    ParkMarks::Batch first = marks.take(10000);
    EXPECT_EQ(first.parked, std::vector<int64_t>{1});
    EXPECT_EQ(first.parked_at, std::vector<double>{1.0});
    for (int64_t id = 2; id <= 5000; ++id) {
        marks.mark(id, 2500);
        EXPECT_FALSE(marks.start()) << "one write at a time";
    }
    EXPECT_TRUE(marks.finish()) << "what came meanwhile is the next batch";
    ParkMarks::Batch second = marks.take(10000);
    EXPECT_EQ(second.parked.size(), 4999u);
    EXPECT_TRUE(second.cleared.empty());
    EXPECT_TRUE(std::all_of(second.parked_at.begin(), second.parked_at.end(), [](double t) { return t == 2.5; }));
    EXPECT_FALSE(marks.finish()) << "nothing left";
    EXPECT_FALSE(marks.start());
}

TEST(ParkMarks, AnIdsLastWordWinsAndABatchIsBounded) {
    ParkMarks marks;
    marks.mark(7, 1000);
    marks.mark(7, 0);  // adopted again before the park was written
    marks.mark(8, 0);
    marks.mark(8, 3000);
    ASSERT_TRUE(marks.start());
    ParkMarks::Batch b = marks.take(10);
    EXPECT_EQ(b.parked, std::vector<int64_t>{8});
    EXPECT_EQ(b.parked_at, std::vector<double>{3.0});
    EXPECT_EQ(b.cleared, std::vector<int64_t>{7});

    for (int64_t id = 1; id <= 25; ++id) marks.mark(id, 1000);
    b = marks.take(10);
    EXPECT_EQ(b.parked.size(), 10u);
    EXPECT_EQ(marks.pending(), 15u);
    EXPECT_TRUE(marks.finish()) << "the rest in the next";
}
