// relay/slot/ack_tracker: what the slot holder may confirm to Postgres, and when.
#include <gtest/gtest.h>

#include "relay/slot/ack_tracker.h"

using namespace rt;

namespace {
constexpr int64_t kT0 = 1'000'000;
constexpr int64_t kSettle = 50;  // later than the position was reached: no waiting since processed() means written
}  // namespace

TEST(AckTracker, NothingBeforeTheStreamShowsAPosition) {
    AckTracker a;
    EXPECT_EQ(a.position(kT0), 0u);
    EXPECT_EQ(a.confirm(kT0), 0u);
}

// The loop reports a document once its frames were written (hub/write_ledger), so a
// position with nothing left to write is confirmed at once: no time to wait for writes.
TEST(AckTracker, APositionWithNothingHandedOverIsConfirmedAtOnce) {
    AckTracker a;
    a.reached(0x100, kT0);  // a keepalive: nothing handed over
    EXPECT_EQ(a.confirm(kT0), 0x100u);
    a.reached(0x200, kT0);
    a.handed_over();
    EXPECT_EQ(a.confirm(kT0), 0x100u) << "handed over, not yet written";
    a.processed(0x200, 0);
    EXPECT_EQ(a.confirm(kT0), 0x200u) << "written: at once";
}

TEST(AckTracker, WaitsForTheLoopToProcessWhatWasHandedOver) {
    AckTracker a;
    a.reached(0x100, kT0);
    a.handed_over();
    a.reached(0x200, kT0 + 1);
    a.handed_over();
    int64_t later = kT0 + 10 * kSettle;
    EXPECT_EQ(a.position(later), 0u) << "nothing processed yet";
    a.processed(0x100, 0);
    EXPECT_EQ(a.position(later), 0x100u) << "one of two processed: up to its commit";
    a.processed(0x200, 0);
    EXPECT_EQ(a.position(later), 0x200u);
}

TEST(AckTracker, AHeldChangeHoldsThePositionBack) {
    AckTracker a;
    a.reached(0x300, kT0);
    a.handed_over();
    a.processed(0x300, 0x180);  // the loop holds a change at 0x180 for a resuming client
    EXPECT_EQ(a.position(kT0 + kSettle), 0x180u);
    a.handed_over();
    a.processed(0, 0);  // the hold is gone
    EXPECT_EQ(a.position(kT0 + kSettle), 0x300u);
}

TEST(AckTracker, NeverConfirmsBackwards) {
    AckTracker a;
    a.reached(0x300, kT0);
    EXPECT_EQ(a.confirm(kT0 + kSettle), 0x300u);
    a.handed_over();
    a.processed(0x300, 0x100);  // a hold appears below what was confirmed
    EXPECT_EQ(a.position(kT0 + kSettle), 0x100u);
    EXPECT_EQ(a.confirm(kT0 + kSettle), 0x300u);
    EXPECT_EQ(a.last_confirmed(), 0x300u);
}

TEST(AckTracker, ARestartForgetsTheStreamButNotTheLoopsCounts) {
    AckTracker a;
    a.reached(0x300, kT0);
    a.handed_over();  // still with the loop when the stream restarts
    EXPECT_EQ(a.confirm(kT0 + kSettle), 0u);
    a.restart();
    EXPECT_EQ(a.last_confirmed(), 0u);
    a.reached(0x200, kT0 + 100);
    EXPECT_EQ(a.position(kT0 + 100 + kSettle), 0u) << "the document handed over before is not processed";
    a.processed(0x200, 0);
    EXPECT_EQ(a.position(kT0 + 100 + kSettle), 0x200u);
}

TEST(AckTracker, ConfirmingDropsPositionsItPassed) {
    AckTracker a;
    for (int i = 1; i <= 3; ++i) a.reached(0x100 * i, kT0 + i);
    EXPECT_EQ(a.confirm(kT0 + 5), 0x300u);
    a.reached(0x400, kT0 + 6);
    a.handed_over();  // its document, not written yet
    EXPECT_EQ(a.confirm(kT0 + 7), 0x300u);
    EXPECT_EQ(a.waiting_ms(kT0 + 10), 4) << "0x400, reached at +6, waits";
    a.processed(0x400, 0);
    EXPECT_EQ(a.confirm(kT0 + 10), 0x400u);
    EXPECT_EQ(a.waiting_ms(kT0 + 10), 0);
}

TEST(AckTracker, WaitingIsTheAgeOfTheOldestUnconfirmedPosition) {
    AckTracker a;
    EXPECT_EQ(a.waiting_ms(kT0), 0);
    a.reached(0x100, kT0);
    a.handed_over();
    a.processed(0x100, 0);
    a.reached(0x200, kT0 + 30);
    a.handed_over();
    EXPECT_EQ(a.waiting_ms(kT0 + 100), 100);
    EXPECT_EQ(a.confirm(kT0 + 60), 0x100u);  // 0x200's document is not written yet
    EXPECT_EQ(a.waiting_ms(kT0 + 100), 70);
    a.processed(0x200, 0);
    EXPECT_EQ(a.confirm(kT0 + 100), 0x200u);
    EXPECT_EQ(a.waiting_ms(kT0 + 100), 0);
}
