// relay/hub/write_ledger: a change is confirmed once its frames (and every earlier
// change's) were taken by the sockets or dropped with their connections; the reports wait
// for that, in order.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "relay/hub/write_ledger.h"

using namespace rt;

namespace {

struct Recorder : SlotProgress {
    std::vector<std::pair<uint64_t, uint64_t>> told;  // (commit_lsn, held_floor)
    void processed(uint64_t lsn, uint64_t floor) override { told.push_back({lsn, floor}); }
};

}  // namespace

TEST(WriteLedger, AChangeWithoutFramesIsWrittenAtOnce) {
    WriteLedger w;
    Recorder r;
    EXPECT_EQ(w.begin(0), 1u);
    w.report(r, 0x100);
    EXPECT_EQ(w.confirm(0), 1u);
    EXPECT_EQ(r.told, (std::vector<std::pair<uint64_t, uint64_t>>{{0x100, 0}}));
}

TEST(WriteLedger, AReportWaitsForEveryFrameOfItsChangeAndOfEveryEarlierOne) {
    WriteLedger w;
    Recorder r;
    const uint64_t a = w.begin(0);
    w.queued(a);
    w.queued(a);  // two members' frames
    w.report(r, 0x100);
    const uint64_t b = w.begin(1);
    w.queued(b);
    w.report(r, 0x200);
    EXPECT_EQ(w.confirm(0), 0u);
    w.taken(b);
    EXPECT_EQ(w.confirm(0), 0u) << "b is written, a is not: nothing";
    w.taken(a);
    EXPECT_EQ(w.confirm(0), 0u) << "one of a's two frames";
    EXPECT_EQ(w.began_ms(a), 0);
    w.taken(a);
    EXPECT_EQ(w.confirm(0x80), 2u) << "both, in order";
    EXPECT_EQ(r.told, (std::vector<std::pair<uint64_t, uint64_t>>{{0x100, 0x80}, {0x200, 0x80}}));
    EXPECT_EQ(w.began_ms(a), 0) << "written: forgotten";
}

TEST(WriteLedger, ReportsAfterTheLastChangeWaitForIt) {
    WriteLedger w;
    Recorder r;
    const uint64_t a = w.begin(5);
    w.queued(a);
    w.report(r, 0x100);
    w.report(r, 0x180);  // a broadcast after it (no frames of its own counted)
    EXPECT_EQ(w.began_ms(a), 5);
    EXPECT_EQ(w.confirm(0), 0u);
    w.taken(a);
    EXPECT_EQ(w.confirm(0), 2u);
}

TEST(WriteLedger, UnknownAndRepeatedTakesChangeNothing) {
    WriteLedger w;
    Recorder r;
    const uint64_t a = w.begin(0);
    w.queued(a);
    w.taken(a + 1);
    w.taken(0);
    w.report(r, 0x100);
    EXPECT_EQ(w.confirm(0), 0u);
    w.taken(a);
    w.taken(a);  // a frame counted once
    EXPECT_EQ(w.confirm(0), 1u);
    const uint64_t b = w.begin(0);
    EXPECT_EQ(b, a + 1);
    w.queued(a);  // a written change's frame: ignored
    w.report(r, 0x200);
    EXPECT_EQ(w.confirm(0), 1u);
}
