// relay/inspector/questions: questions to the cluster wait for their answers or a deadline.
#include <gtest/gtest.h>

#include "relay/inspector/questions.h"

using namespace rt::inspector;

namespace {

struct Finished {
    int calls = 0;
    std::vector<std::string> answers, missing;
    Questions::Finish fn() {
        return [this](const std::vector<std::string>& a, const std::vector<std::string>& m) {
            ++calls;
            answers = a;
            missing = m;
        };
    }
};

}  // namespace

TEST(Questions, FinishesWhenEveryPeerAnswered) {
    Questions qs;
    Finished f;
    uint64_t id = qs.ask("local", {"b", "c"}, 0, f.fn());
    ASSERT_NE(id, 0u);
    qs.answered("b", id, "B");
    qs.answered("b", id, "B again");  // twice: ignored
    qs.answered("x", id, "X");        // not asked: ignored
    EXPECT_EQ(f.calls, 0);
    qs.answered("c", id, "C");
    EXPECT_EQ(f.calls, 1);
    EXPECT_EQ(f.answers, (std::vector<std::string>{"local", "B", "C"}));
    EXPECT_TRUE(f.missing.empty());
    EXPECT_EQ(qs.pending(), 0u);
    qs.answered("c", id, "late");
    EXPECT_EQ(f.calls, 1);
}

TEST(Questions, DeadlineFinishesWithTheMissingNamed) {
    Questions qs;
    Finished f;
    uint64_t id = qs.ask("local", {"b", "c"}, 1000, f.fn());
    qs.answered("c", id, "C");
    qs.expire(1000 + Questions::kWaitMs - 1);
    EXPECT_EQ(f.calls, 0);
    qs.expire(1000 + Questions::kWaitMs);
    EXPECT_EQ(f.calls, 1);
    EXPECT_EQ(f.answers, (std::vector<std::string>{"local", "C"}));
    EXPECT_EQ(f.missing, std::vector<std::string>{"b"});
}

TEST(Questions, NobodyToWaitForFinishesAtOnce) {
    Questions qs;
    Finished f;
    EXPECT_NE(qs.ask("local", {}, 0, f.fn()), 0u);
    EXPECT_EQ(f.calls, 1);
    EXPECT_EQ(qs.pending(), 0u);
}

TEST(Questions, BoundedPending) {
    Questions qs;
    Finished f;
    for (size_t i = 0; i < Questions::kMaxPending; ++i) EXPECT_NE(qs.ask("l", {"b"}, 0, f.fn()), 0u);
    EXPECT_EQ(qs.ask("l", {"b"}, 0, f.fn()), 0u);
    EXPECT_EQ(qs.pending(), Questions::kMaxPending);
}
