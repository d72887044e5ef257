// relay/core/keyed_queue: one job per key at a time, in order; other keys pass by.
#include <gtest/gtest.h>

#include <string>

#include "relay/core/keyed_queue.h"

using rt::KeyedQueue;

namespace {

std::string take(KeyedQueue<std::string>& q) {
    auto next = q.take();
    return next ? next->second : "<none>";
}

}  // namespace

TEST(KeyedQueue, TakesInOrder) {
    KeyedQueue<std::string> q;
    q.push(1, "a");
    q.push(2, "b");
    EXPECT_EQ(take(q), "a");
    EXPECT_EQ(take(q), "b");
    EXPECT_EQ(take(q), "<none>");
}

TEST(KeyedQueue, ABusyKeyWaitsAndOthersPassIt) {
    KeyedQueue<std::string> q;
    q.push(1, "slow");
    q.push(1, "after-slow");
    q.push(2, "other");
    EXPECT_EQ(take(q), "slow");
    // Key 1 runs: its next job waits, key 2's does not.
    EXPECT_EQ(take(q), "other");
    EXPECT_EQ(take(q), "<none>");
    EXPECT_EQ(q.size(), 1u);
    q.finished(1);
    EXPECT_EQ(take(q), "after-slow");
}

TEST(KeyedQueue, OneKeyHoldsAtMostOneWorker) {
    KeyedQueue<std::string> q;
    for (int i = 0; i < 10; ++i) q.push(7, "attacker");
    q.push(8, "victim");
    EXPECT_EQ(take(q), "attacker");
    EXPECT_EQ(take(q), "victim");
    EXPECT_EQ(q.running(), 2u);
    EXPECT_EQ(take(q), "<none>");
}

TEST(KeyedQueue, NoKeyJobsNeverWaitForEachOther) {
    KeyedQueue<std::string> q;
    q.push(KeyedQueue<std::string>::kNoKey, "x");
    q.push(KeyedQueue<std::string>::kNoKey, "y");
    EXPECT_EQ(take(q), "x");
    EXPECT_EQ(take(q), "y");
    EXPECT_EQ(q.running(), 0u);
}

TEST(KeyedQueue, FinishedKeyRunsAgain) {
    KeyedQueue<std::string> q;
    q.push(3, "first");
    EXPECT_EQ(take(q), "first");
    q.finished(3);
    q.push(3, "second");
    EXPECT_EQ(take(q), "second");
}
