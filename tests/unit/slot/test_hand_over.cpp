// relay/slot/hand_over: the holder's backlog of changes for other nodes: numbering,
// confirmations, resends, bounds, and what it is addressable by.
#include <gtest/gtest.h>

#include "relay/slot/hand_over.h"

using namespace rt;

namespace {

ChangeEvent change(uint64_t lsn, std::vector<int64_t> ids = {1}, size_t payload = 10) {
    ChangeEvent ev;
    ev.pos = {lsn, 0};
    ev.groups.push_back({std::move(ids), std::string(payload, 'x')});
    return ev;
}

HandOverBounds bounds() {
    HandOverBounds b;
    b.max_bytes = 1 << 20;
    b.max_age_ms = 10000;
    b.resend_after_ms = 1000;
    b.resend_gap_ms = 250;
    return b;
}

std::vector<uint64_t> seqs(const HandOver::Out& out, const std::string& node) {
    std::vector<uint64_t> s;
    for (const auto& send : out.sends)
        if (send.node == node) s.push_back(send.tag.seq);
    return s;
}

}  // namespace

TEST(HandOver, NumbersEachNodesChangesOnItsStream) {
    HandOver h(bounds());
    h.restart(42);
    HandOver::Send a1 = h.add("a", change(0x100), 0);
    HandOver::Send b1 = h.add("b", change(0x100), 0);
    HandOver::Send a2 = h.add("a", change(0x200), 0);
    EXPECT_EQ(a1.tag.stream, 42u);
    EXPECT_EQ(a1.tag.seq, 1u);
    EXPECT_EQ(b1.tag.seq, 1u);
    EXPECT_EQ(a2.tag.seq, 2u);
    EXPECT_EQ(a2.tag.base, 1u) << "the oldest kept for a";
    EXPECT_FALSE(a2.tag.lossy);
    ASSERT_NE(a2.ev, nullptr);
    EXPECT_EQ(a2.ev->pos.commit_lsn, 0x200u);
}

TEST(HandOver, TheFloorIsTheOldestChangeANodeHasNotConfirmed) {
    HandOver h(bounds());
    h.restart(1);
    EXPECT_EQ(h.floor(), 0u);
    h.add("a", change(0x100), 0);
    h.add("b", change(0x100), 0);
    h.add("a", change(0x200), 0);
    EXPECT_EQ(h.floor(), 0x100u);
    h.confirmed("a", {1, 2, false}, 5);
    EXPECT_EQ(h.floor(), 0x100u) << "b has not confirmed its";
    h.confirmed("b", {1, 1, false}, 5);
    EXPECT_EQ(h.floor(), 0u);
    EXPECT_EQ(h.bytes(), 0);
    EXPECT_EQ(h.size(), 0u);
}

TEST(HandOver, AnotherStreamsConfirmationIsVoid) {
    HandOver h(bounds());
    h.restart(1);
    h.add("a", change(0x100), 0);
    h.confirmed("a", {2, 1, false}, 5);
    EXPECT_EQ(h.size(), 1u);
    h.restart(3);
    EXPECT_EQ(h.size(), 0u) << "a new stream resumes from a position below everything kept";
}

TEST(HandOver, UnconfirmedChangesAreResentWhileTheNodeIsUp) {
    HandOver h(bounds());
    h.restart(1);
    h.add("a", change(0x100), 0);
    h.add("a", change(0x200), 0);
    HandOver::Out out;
    h.tick(999, out);
    EXPECT_TRUE(out.sends.empty());
    h.tick(1000, out);
    EXPECT_EQ(seqs(out, "a"), (std::vector<uint64_t>{1, 2}));
    HandOver::Out again;
    h.tick(1500, again);
    EXPECT_TRUE(again.sends.empty()) << "sent again at 1000: not due before 2000";
    h.left("a");
    h.tick(5000, again);
    EXPECT_TRUE(again.sends.empty()) << "a down node is not sent anything";
}

// A node confirms what its clients' sockets took, which a slow client holds back; what it
// said it received is not resent meanwhile, and what it did not is. Once it returns (a new
// incarnation may have lost what it had not confirmed) everything unconfirmed goes again.
TEST(HandOver, WhatANodeReceivedButHasNotConfirmedIsNotResent) {
    HandOver h(bounds());
    h.restart(1);
    h.add("a", change(0x100), 0);
    h.add("a", change(0x200), 0);
    h.add("a", change(0x300), 0);
    h.confirmed("a", HandOverAck{1, 1, false, 2}, 10);  // wrote 1, received 2 (a slow client holds 2)
    HandOver::Out out;
    h.tick(1000, out);
    EXPECT_EQ(seqs(out, "a"), (std::vector<uint64_t>{2, 3})) << "3 was never heard of: all unconfirmed again";
    h.confirmed("a", HandOverAck{1, 1, false, 3}, 1010);
    HandOver::Out quiet;
    h.tick(2500, quiet);
    EXPECT_TRUE(quiet.sends.empty()) << "all received: nothing resent while the node's clients write";
    EXPECT_EQ(h.floor(), 0x200u) << "the slot still waits for what is not written";
    h.returned("a");
    HandOver::Out back;
    h.tick(2600, back);
    EXPECT_EQ(seqs(back, "a"), (std::vector<uint64_t>{2, 3}));
}

TEST(HandOver, ANodeThatReturnsGetsEverythingItHasNotConfirmedAtOnce) {
    HandOver h(bounds());
    h.restart(1);
    for (uint64_t lsn = 1; lsn <= 3; ++lsn) h.add("a", change(lsn * 0x100), 0);
    h.confirmed("a", {1, 1, false}, 10);
    h.left("a");
    h.returned("a");  // up again, or a new incarnation
    HandOver::Out out;
    h.tick(20, out);
    EXPECT_EQ(seqs(out, "a"), (std::vector<uint64_t>{2, 3}));
    EXPECT_EQ(out.sends[0].tag.base, 2u);
}

TEST(HandOver, AGapReportedByTheNodeIsResentButNotMoreOftenThanTheGap) {
    HandOver h(bounds());
    h.restart(1);
    for (uint64_t lsn = 1; lsn <= 4; ++lsn) h.add("a", change(lsn), 0);
    h.confirmed("a", {1, 2, true}, 10);  // has 1..2, saw a gap after
    HandOver::Out out;
    h.tick(10, out);
    EXPECT_EQ(seqs(out, "a"), (std::vector<uint64_t>{3, 4}));
    h.confirmed("a", {1, 2, true}, 20);
    HandOver::Out soon, later;
    h.tick(100, soon);
    EXPECT_TRUE(soon.sends.empty());
    h.tick(260, later);
    EXPECT_EQ(seqs(later, "a"), (std::vector<uint64_t>{3, 4}));
}

TEST(HandOver, ARestartedNodeThatHasNothingIsSentWhatIsKept) {
    HandOver h(bounds());
    h.restart(1);
    for (uint64_t lsn = 1; lsn <= 3; ++lsn) h.add("a", change(lsn), 0);
    h.confirmed("a", {1, 1, false}, 10);  // its previous life processed 1
    h.confirmed("a", {1, 0, true}, 20);   // the new one has nothing
    HandOver::Out out;
    h.tick(20, out);
    EXPECT_EQ(seqs(out, "a"), (std::vector<uint64_t>{2, 3}));
    EXPECT_EQ(out.sends[0].tag.base, 2u) << "it starts at the base";
}

TEST(HandOver, PastItsAgeBoundANodeIsGoneAndNoLongerHoldsTheSlot) {
    HandOver h(bounds());
    h.restart(1);
    h.add("a", change(0x100), 0);
    h.add("b", change(0x100), 0);
    h.confirmed("b", {1, 1, false}, 10);
    h.left("a");
    HandOver::Out out;
    h.tick(10000, out);
    EXPECT_TRUE(out.gone.empty());
    h.tick(10001, out);
    EXPECT_EQ(out.gone, (std::vector<std::string>{"a"}));
    EXPECT_EQ(out.dropped, 1u);
    EXPECT_EQ(h.floor(), 0u);
    // Nothing more is kept for it, and what it is sent says what was dropped.
    HandOver::Send s = h.add("a", change(0x300), 10002);
    EXPECT_EQ(s.tag.seq, 2u);
    EXPECT_EQ(s.tag.base, 2u);
    EXPECT_TRUE(s.tag.lossy);
    EXPECT_EQ(h.floor(), 0u);
    // Once it confirms again, changes are kept for it again.
    h.confirmed("a", {1, 2, false}, 10003);
    h.add("a", change(0x400), 10004);
    EXPECT_EQ(h.floor(), 0x400u);
}

TEST(HandOver, PastItsByteBoundANodeIsGone) {
    HandOverBounds b = bounds();
    b.max_bytes = 1000;
    HandOver h(b);
    h.restart(1);
    h.add("a", change(1, {1}, 600), 0);
    HandOver::Out out;
    h.tick(1, out);
    EXPECT_TRUE(out.gone.empty());
    h.add("a", change(2, {1}, 600), 2);
    h.tick(3, out);
    EXPECT_EQ(out.gone, (std::vector<std::string>{"a"}));
    EXPECT_EQ(h.bytes(), 0);
}

TEST(HandOver, ANodeBehindWhatWasDroppedGetsABaseNotice) {
    HandOverBounds b = bounds();
    b.max_bytes = 100;
    HandOver h(b);
    h.restart(1);
    h.add("a", change(1, {1}, 200), 0);
    HandOver::Out out;
    h.tick(1, out);  // gone: 1 dropped
    h.confirmed("a", {1, 0, false}, 5);  // it still has nothing
    HandOver::Out notice;
    h.tick(5, notice);
    ASSERT_EQ(notice.sends.size(), 1u);
    EXPECT_EQ(notice.sends[0].ev, nullptr);
    EXPECT_EQ(notice.sends[0].tag.base, 2u);
    EXPECT_TRUE(notice.sends[0].tag.lossy);
}

TEST(HandOver, TheBacklogIsAddressablePerNodeAndPerSubscription) {
    HandOver h(bounds());
    h.restart(1);
    h.add("a", change(0x100, {1, 2}), 0);
    h.add("a", change(0x200, {2}), 0);
    h.add("a", change(0x300, {1}), 0);
    h.add("b", change(0x300, {9}), 0);
    ASSERT_NE(h.unconfirmed("a"), nullptr);
    EXPECT_EQ(h.unconfirmed("a")->size(), 3u);
    EXPECT_EQ(h.unconfirmed("z"), nullptr);
    auto of_1 = h.for_subscription("a", 1, ChangePos{});
    ASSERT_EQ(of_1.size(), 2u);
    EXPECT_EQ(of_1[0]->ev.pos.commit_lsn, 0x100u);
    EXPECT_EQ(of_1[1]->ev.pos.commit_lsn, 0x300u);
    auto after = h.for_subscription("a", 1, ChangePos{0x100, 0});
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0]->seq, 3u);
}

TEST(HandOver, WhatADeadNodeKeptForMovedSubscriptionsIsRecoveredForTheirNewNode) {
    HandOver h(bounds());
    h.restart(1);
    auto payload = [](std::vector<int64_t> ids) {
        ChangeEvent ev;
        ev.pos = {0, 0};
        std::string p = "{\"ids\":[";
        for (size_t i = 0; i < ids.size(); ++i) p += (i ? "," : "") + std::to_string(ids[i]);
        p += "],\"data\":{}}";
        return ChangeGroup{std::move(ids), p};
    };
    ChangeEvent e1, e2, e3;
    e1.pos = {0x300, 0};
    e1.groups.push_back(payload({7, 8}));
    e2.pos = {0x100, 0};
    e2.groups.push_back(payload({8}));
    e3.pos = {0x200, 0};
    e3.groups.push_back(payload({9}));
    h.add("a", e2, 0);
    h.add("a", e1, 0);
    h.add("b", e3, 0);  // the new node's own: not recovered
    auto found = h.recovered_for("b", {8, 9});
    ASSERT_EQ(found.size(), 2u);
    EXPECT_EQ(found[0].kind, ChangeEvent::Kind::Recovered);
    EXPECT_EQ(found[0].pos.commit_lsn, 0x100u) << "in commit order";
    EXPECT_EQ(found[1].pos.commit_lsn, 0x300u);
    ASSERT_EQ(found[1].groups.size(), 1u);
    EXPECT_EQ(found[1].groups[0].ids, (std::vector<int64_t>{8})) << "only the moved ids";
    EXPECT_EQ(found[1].groups[0].payload, R"({"ids":[8],"recovered":true,"data":{}})");
    EXPECT_TRUE(h.recovered_for("b", {5}).empty());
}

namespace {
ChangeGroup ids_group(const std::vector<int64_t>& ids) {
    std::string p = "{\"ids\":[";
    for (size_t i = 0; i < ids.size(); ++i) p += (i ? "," : "") + std::to_string(ids[i]);
    p += "],\"data\":{}}";
    return ChangeGroup{ids, p};
}
size_t groups_of(const std::vector<ChangeEvent>& found) {
    size_t n = 0;
    for (const ChangeEvent& ev : found) n += ev.groups.size();
    return n;
}
}  // namespace

// recovered_for looks the moved ids up (an index of the backlog per id, kept up to date),
// instead of reading each kept group's ids, which name every client's subscription of the
// node: what it finds stays what the backlog holds through confirmations, later additions
// and a drop.
TEST(HandOver, RecoveredForFindsTheMovedIdsAmongManyThroughConfirmationsAndAdditions) {
    HandOver h(bounds());
    h.restart(1);
    std::vector<int64_t> everyone;
    for (int64_t id = 1; id <= 1000; ++id) everyone.push_back(id);
    auto add = [&](uint64_t i) {
        ChangeEvent ev;
        ev.pos = {0x1000 + i, 0};
        ev.groups.push_back(ids_group(everyone));
        if (i % 3 == 0) ev.groups.push_back(ids_group({500, 1001}));  // a column view
        h.add("a", std::move(ev), 0);
    };
    for (uint64_t i = 1; i <= 20; ++i) add(i);
    ChangeEvent sub;
    sub.kind = ChangeEvent::Kind::Subscribed;
    sub.pos = {0x2000, 0};
    sub.groups.push_back({{500}, ""});
    h.add("a", sub, 0);  // not a row: not recovered

    auto found = h.recovered_for("b", {500});
    ASSERT_EQ(found.size(), 20u);
    EXPECT_EQ(groups_of(found), 26u) << "each of its groups, the column view's too";
    EXPECT_EQ(found[0].pos.commit_lsn, 0x1001u);
    EXPECT_EQ(found[2].groups.size(), 2u);
    EXPECT_EQ(found[2].groups[1].ids, (std::vector<int64_t>{500}));
    EXPECT_EQ(found[0].groups[0].payload, R"({"ids":[500],"recovered":true,"data":{}})");
    EXPECT_TRUE(h.recovered_for("a", {500}).empty()) << "a node's own backlog is not recovered for it";
    EXPECT_TRUE(h.recovered_for("b", {5000}).empty());

    h.confirmed("a", {1, 10, false}, 0);
    found = h.recovered_for("b", {500, 7, 500});
    ASSERT_EQ(found.size(), 10u) << "the confirmed ones are gone";
    EXPECT_EQ(found[0].pos.commit_lsn, 0x100bu);
    EXPECT_EQ(found[0].groups[0].ids, (std::vector<int64_t>{7, 500})) << "each id once";
    EXPECT_EQ(found[0].groups[0].payload, R"({"ids":[7,500],"recovered":true,"data":{}})");

    for (uint64_t i = 21; i <= 25; ++i) add(i);
    EXPECT_EQ(h.recovered_for("b", {7}).size(), 15u) << "what was added since the last look";
    h.confirmed("a", {1, 25, false}, 0);  // all but the last row: the index is rebuilt
    found = h.recovered_for("b", {7});
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].pos.commit_lsn, 0x1019u);
}

