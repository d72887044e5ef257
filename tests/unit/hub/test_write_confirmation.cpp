// What the loop confirms of the changes it was given (hub/write_ledger through the hub):
// what the clients' sockets took, or what was parked with a closed connection, in order;
// a client whose socket does not take a change for Config::unwritten_cutoff_ms is cut off.
#include "hub_fixture.h"

using namespace rt;
using namespace rt::testing;

namespace {

struct Recorder : SlotProgress {
    std::vector<std::pair<uint64_t, uint64_t>> told;  // (commit_lsn, held_floor)
    void processed(uint64_t lsn, uint64_t floor) override { told.push_back({lsn, floor}); }
};

}  // namespace

class WriteConfirmationTest : public HubTest {
protected:
    // A client joined with subscription 77, live, everything read.
    Connection* live_client() {
        Connection* c = connect(Vsn::V2, "user-1");
        pg_joined(c, "realtime:room1", "[" + kTodos + "]", {77});
        hub->deliver_change(subscribed({77}, 0x100, 0));
        drain(c);
        return c;
    }
    // The socket takes everything queued, at the end of a loop turn.
    std::vector<Out> drain(Connection* c) {
        auto out = take(*c);
        hub->written(*c);
        hub->confirm_written();
        return out;
    }
    void change(uint64_t lsn) {
        hub->deliver_change(row({77}, lsn, 0));
        hub->report_when_written(progress, lsn);
    }
    Recorder progress;
};

TEST_F(WriteConfirmationTest, AChangeIsConfirmedOnceTheSocketTookItNotWhenProcessed) {
    Connection* c = live_client();
    progress.told.clear();
    change(0x200);
    change(0x300);
    hub->confirm_written();
    EXPECT_TRUE(progress.told.empty()) << "processed, queued, not written";
    EXPECT_EQ(drain(c).size(), 2u);
    EXPECT_EQ(progress.told, (std::vector<std::pair<uint64_t, uint64_t>>{{0x200, 0}, {0x300, 0}}));
}

TEST_F(WriteConfirmationTest, AChangeNobodyHereWaitsForIsConfirmedAtOnce) {
    hub->deliver_change(row({5}, 0x200, 0));  // for no subscription of this node
    hub->report_when_written(progress, 0x200);
    EXPECT_EQ(progress.told.size(), 1u);
}

TEST_F(WriteConfirmationTest, AClosedClientsUnwrittenChangesAreParkedAndConfirmedWithTheirHold) {
    Connection* c = live_client();
    progress.told.clear();
    change(0x200);
    hub->closed(*c);  // the frame was never written: parked, kept
    hub->confirm_written();
    ASSERT_EQ(progress.told.size(), 1u);
    EXPECT_EQ(progress.told[0].first, 0x200u);
    EXPECT_EQ(progress.told[0].second, 0x200u) << "kept for the client's return: the slot stays below it";
    EXPECT_EQ(metrics.resume_kept_changes.load(), 1);
}

TEST_F(WriteConfirmationTest, ASlowClientHoldsConfirmationsBackUntilItIsCutOff) {
    Connection* slow = live_client();
    Connection* other = connect(Vsn::V2, "user-2");
    pg_joined(other, "realtime:room2", "[" + kTodos + "]", {78});
    hub->deliver_change(subscribed({78}, 0x150, 0));
    drain(other);
    progress.told.clear();
    hub->deliver_change(row({77, 78}, 0x200, 0));
    hub->report_when_written(progress, 0x200);
    drain(other);
    EXPECT_TRUE(progress.told.empty()) << "the slow client has not taken it";
    advance_ms(cfg.unwritten_cutoff_ms());
    hub->tick();
    EXPECT_FALSE(transport.closed(slow)) << "not past the cutoff yet";
    advance_ms(1);
    hub->tick();
    ASSERT_TRUE(transport.closed(slow));
    EXPECT_EQ(transport.close_of(slow)->code, 1008);
    EXPECT_FALSE(transport.closed(other));
    EXPECT_EQ(metrics.slow_client_disconnects.load(), 1u);
    hub->closed(*slow);  // the transport closes it
    hub->confirm_written();
    ASSERT_EQ(progress.told.size(), 1u) << "parked: confirmed";
    EXPECT_EQ(progress.told[0].second, 0x200u) << "and kept for its return";
}
