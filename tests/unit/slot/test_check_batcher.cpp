// relay/slot/check_batcher: checks batched per key while a call is in flight, verdicts per
// document (its own candidates only), failed calls passing nobody.
#include <gtest/gtest.h>

#include "relay/slot/check_batcher.h"

using namespace rt;

namespace {

CheckKey key(const std::string& role = "authenticated") { return CheckKey{"public", "todos", role, {"q1", "q2"}, false}; }

CheckOutcome rows(std::vector<CheckOutcome::Row> r) {
    CheckOutcome o;
    o.rows = std::move(r);
    return o;
}

}  // namespace

TEST(CheckKey, DistinctKeysHaveDistinctIds) {
    CheckKey a = key(), b = key();
    b.quals = {"q1q2"};
    CheckKey c = key();
    c.per_user = true;
    CheckKey d{"publ", "ictodos", "authenticated", {"q1", "q2"}, false};
    EXPECT_EQ(a.id(), key().id());
    EXPECT_NE(a.id(), b.id());
    EXPECT_NE(a.id(), c.id());
    EXPECT_NE(a.id(), d.id());
    EXPECT_NE(a.id(), key("anon").id());
}

TEST(CheckBatcher, TheFirstDocumentGoesAtOnceTheNextWaitForTheCallInFlight) {
    CheckBatcher b;
    auto first = b.submit(key(), 1, "(1)", {10, 11});
    ASSERT_TRUE(first);
    EXPECT_EQ(first->rows, (std::vector<std::string>{"(1)"}));
    EXPECT_EQ(first->candidates, (std::vector<int64_t>{10, 11}));
    EXPECT_TRUE(first->pair_rows.empty()) << "every row against every candidate: no pairs";
    EXPECT_FALSE(b.submit(key(), 2, "(2)", {11, 12}));
    EXPECT_FALSE(b.submit(key(), 3, "(3)", {10}));
    EXPECT_TRUE(b.submit(key("anon"), 4, "(4)", {20})) << "another check does not wait";
    EXPECT_EQ(b.waiting(), 2u);

    std::optional<CheckCall> next;
    auto verdicts = b.finished(first->id, rows({{1, 10, false, ""}, {1, 11, false, ""}}), next);
    ASSERT_EQ(verdicts.size(), 1u);
    EXPECT_EQ(verdicts[0].ticket, 1u);
    EXPECT_EQ(verdicts[0].passed, (std::vector<int64_t>{10, 11}));
    ASSERT_TRUE(next) << "the documents that waited go together";
    EXPECT_EQ(next->rows, (std::vector<std::string>{"(2)", "(3)"}));
    EXPECT_EQ(next->candidates, (std::vector<int64_t>{11, 12, 10}));
    // only each document's own candidates against its row
    EXPECT_EQ(next->pair_rows, (std::vector<int>{1, 1, 2}));
    EXPECT_EQ(next->pair_ids, (std::vector<int64_t>{11, 12, 10}));
    EXPECT_EQ(b.waiting(), 0u);
}

TEST(CheckBatcher, EachDocumentKeepsItsOwnRowAndCandidates) {
    CheckBatcher b;
    auto first = b.submit(key(), 1, "(1)", {10});
    b.submit(key(), 2, "(2)", {11, 12});
    b.submit(key(), 3, "(3)", {10});
    std::optional<CheckCall> next;
    b.finished(first->id, rows({}), next);
    // Every row against every candidate: (row 1, 10) passes, but document 2 did not list 10.
    auto verdicts = b.finished(
        next->id, rows({{1, 10, false, ""}, {1, 11, false, ""}, {2, 10, false, ""}, {2, 12, false, ""}}), next);
    ASSERT_EQ(verdicts.size(), 2u);
    EXPECT_EQ(verdicts[0].ticket, 2u);
    EXPECT_EQ(verdicts[0].passed, (std::vector<int64_t>{11}));
    EXPECT_EQ(verdicts[1].ticket, 3u);
    EXPECT_EQ(verdicts[1].passed, (std::vector<int64_t>{10}));
    EXPECT_FALSE(next);
    EXPECT_EQ(b.in_flight(), 0u);
}

TEST(CheckBatcher, AnErrorRowFailsThatCandidateInEveryDocumentOfTheCall) {
    CheckBatcher b;
    auto first = b.submit(key(), 1, "(1)", {10, 11});
    std::optional<CheckCall> next;
    auto v = b.finished(first->id, rows({{1, 10, false, ""}, {0, 11, true, "boom"}}), next);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].passed, (std::vector<int64_t>{10}));
    ASSERT_EQ(v[0].errors.size(), 1u);
    EXPECT_EQ(v[0].errors[0], (std::pair<int64_t, std::string>{11, "boom"}));
}

TEST(CheckBatcher, AFailedCallPassesNobodyAndTellsEveryCandidate) {
    CheckBatcher b;
    auto first = b.submit(key(), 1, "(1)", {10, 11});
    CheckOutcome failed;
    failed.ok = false;
    failed.error = "timed out";
    std::optional<CheckCall> next;
    auto v = b.finished(first->id, failed, next);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_TRUE(v[0].passed.empty());
    EXPECT_EQ(v[0].errors.size(), 2u);
    EXPECT_EQ(v[0].errors[1].second, "timed out");
}

TEST(CheckBatcher, CallsAreCappedAtMaxRows) {
    CheckBatcher b;
    auto first = b.submit(key(), 0, "(0)", {1});
    for (uint64_t t = 1; t <= CheckBatcher::kMaxRows + 5; ++t) b.submit(key(), t, "(r)", {1});
    std::optional<CheckCall> next;
    b.finished(first->id, rows({}), next);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->rows.size(), CheckBatcher::kMaxRows);
    EXPECT_EQ(next->candidates, (std::vector<int64_t>{1})) << "candidates once each";
    b.finished(next->id, rows({}), next);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->rows.size(), 5u);
}

TEST(CheckBatcher, UnknownCallsAndCallsBeforeAResetGiveNothing) {
    CheckBatcher b;
    auto first = b.submit(key(), 1, "(1)", {10});
    b.submit(key(), 2, "(2)", {10});
    b.reset();
    std::optional<CheckCall> next;
    EXPECT_TRUE(b.finished(first->id, rows({{1, 10, false, ""}}), next).empty());
    EXPECT_FALSE(next);
    EXPECT_TRUE(b.finished(999, rows({}), next).empty());
    EXPECT_TRUE(b.submit(key(), 3, "(3)", {10})) << "nothing in flight any more";
}
