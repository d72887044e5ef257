// cluster/hand_over_intake: a node receiving the slot holder's changes: order, gaps,
// losses, and what it confirms.
#include <gtest/gtest.h>

#include "cluster/hand_over_intake.h"

using namespace rt;
using namespace rt::cluster;
using Verdict = HandOverIntake::Verdict;

namespace {

HandOverTag tag(uint64_t seq, uint64_t base = 1, bool lossy = false, uint64_t stream = 7) {
    return {stream, seq, base, lossy};
}

std::vector<std::pair<std::string, HandOverAck>> acks(HandOverIntake& in, int64_t now) {
    std::vector<std::pair<std::string, HandOverAck>> out;
    in.due(now, out);
    return out;
}

}  // namespace

// What is confirmed is what the loop's sockets took (its reports, hub/write_ledger), as
// soon as that advances; what was received goes with it, and alone at most every
// kAckIntervalMs (so the holder does not resend what a slow client holds back).
TEST(HandOverIntake, DeliversInOrderAndConfirmsWhatTheLoopWroteAtOnce) {
    HandOverIntake in;
    EXPECT_EQ(in.receive("h", tag(1), 0).verdict, Verdict::Deliver);
    EXPECT_EQ(in.receive("h", tag(2), 0).verdict, Verdict::Deliver);
    auto first = acks(in, 0);
    ASSERT_EQ(first.size(), 1u) << "a first confirmation of the stream (nothing written yet)";
    EXPECT_EQ(first[0].second.through, 0u);
    EXPECT_EQ(first[0].second.received, 2u);
    EXPECT_TRUE(acks(in, 1).empty()) << "nothing new";
    in.processed(1);
    auto later = acks(in, 2);
    ASSERT_EQ(later.size(), 1u) << "at once, not on a timer";
    EXPECT_EQ(later[0].first, "h");
    EXPECT_EQ(later[0].second.stream, 7u);
    EXPECT_EQ(later[0].second.through, 1u);
    EXPECT_FALSE(later[0].second.resend);
    in.receive("h", tag(3), 3);
    EXPECT_TRUE(acks(in, 3).empty()) << "news of what was received only: batched";
    auto heard = acks(in, 2 + HandOverIntake::kAckIntervalMs);
    ASSERT_EQ(heard.size(), 1u);
    EXPECT_EQ(heard[0].second.through, 1u);
    EXPECT_EQ(heard[0].second.received, 3u);
}

TEST(HandOverIntake, AChangeAfterAGapIsNotDeliveredButAskedFor) {
    HandOverIntake in;
    in.receive("h", tag(1), 0);
    in.processed(1);
    auto gap = in.receive("h", tag(3), 0);
    EXPECT_EQ(gap.verdict, Verdict::Gap);
    EXPECT_FALSE(gap.lost);
    auto ask = acks(in, 0);
    ASSERT_EQ(ask.size(), 1u);
    EXPECT_TRUE(ask[0].second.resend);
    EXPECT_EQ(ask[0].second.through, 1u);
    EXPECT_TRUE(acks(in, 50).empty()) << "not asked again at once";
    in.receive("h", tag(4), 60);
    EXPECT_TRUE(acks(in, HandOverIntake::kResendAskMs).at(0).second.resend);
    // The resend arrives: 2 and 3 in order, then 4 again.
    EXPECT_EQ(in.receive("h", tag(2), 200).verdict, Verdict::Deliver);
    EXPECT_EQ(in.receive("h", tag(3), 200).verdict, Verdict::Deliver);
    EXPECT_EQ(in.receive("h", tag(2), 200).verdict, Verdict::Duplicate);
    EXPECT_EQ(in.receive("h", tag(4), 200).verdict, Verdict::Deliver);
}

TEST(HandOverIntake, ANewStreamStartsAtTheHoldersBase) {
    HandOverIntake in;  // a node that just started: the holder kept 5.. for its previous life
    EXPECT_EQ(in.receive("h", tag(9, 5), 0).verdict, Verdict::Gap);
    auto ask = acks(in, 0);
    ASSERT_EQ(ask.size(), 1u);
    EXPECT_TRUE(ask[0].second.resend);
    EXPECT_EQ(ask[0].second.through, 0u);
    auto first = in.receive("h", tag(5, 5), 10);
    EXPECT_EQ(first.verdict, Verdict::Deliver);
    EXPECT_FALSE(first.lost);
    EXPECT_EQ(in.receive("h", tag(6, 5), 10).verdict, Verdict::Deliver);
}

TEST(HandOverIntake, ABaseAboveWhatWeExpectIsALoss) {
    HandOverIntake in;
    in.receive("h", tag(1), 0);
    auto r = in.receive("h", tag(8, 6, true), 10);  // the holder dropped 2..5
    EXPECT_TRUE(r.lost);
    EXPECT_EQ(r.verdict, Verdict::Gap) << "6 and 7 are still kept: asked for";
    EXPECT_EQ(in.receive("h", tag(6, 6), 20).verdict, Verdict::Deliver);
    in.processed(2);
    auto ack = acks(in, 200);
    ASSERT_EQ(ack.size(), 1u);
    EXPECT_EQ(ack[0].second.through, 6u);
}

TEST(HandOverIntake, ALossyStartOrABaseNoticeReportsTheLoss) {
    HandOverIntake fresh;
    EXPECT_TRUE(fresh.receive("h", tag(4, 4, true), 0).lost);
    HandOverIntake in;
    in.receive("h", tag(1), 0);
    in.processed(1);
    EXPECT_FALSE(in.base_notice("h", tag(0, 2), 5)) << "nothing skipped";
    EXPECT_TRUE(in.base_notice("h", tag(0, 5, true), 5));
    // What it skipped is confirmed, so the holder stops telling it.
    auto ack = acks(in, 100);
    ASSERT_EQ(ack.size(), 1u);
    EXPECT_EQ(ack[0].second.through, 4u);
}

TEST(HandOverIntake, KeepsConfirmingARecentStreamAndForgetsOldOnes) {
    HandOverIntake in;
    in.receive("h", tag(1), 0);
    in.processed(1);
    EXPECT_EQ(acks(in, 0).size(), 1u);
    EXPECT_TRUE(acks(in, 500).empty());
    EXPECT_EQ(acks(in, HandOverIntake::kKeepaliveMs).size(), 1u) << "a keepalive";
    acks(in, HandOverIntake::kForgetAfterMs + 1);
    EXPECT_EQ(in.streams(), 0u);
}

TEST(HandOverIntake, StreamsOfTwoHoldersAreApart) {
    HandOverIntake in;
    in.receive("old", tag(1, 1, false, 1), 0);
    EXPECT_EQ(in.receive("new", tag(1, 1, false, 2), 0).verdict, Verdict::Deliver);
    in.processed(2);
    auto out = acks(in, 0);
    ASSERT_EQ(out.size(), 2u);
    for (auto& [holder, ack] : out) EXPECT_EQ(ack.stream, holder == "old" ? 1u : 2u);
}
