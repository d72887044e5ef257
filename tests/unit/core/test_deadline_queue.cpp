// relay/core/deadline_queue: fixed-length deadlines, finished or expired in order.
#include <gtest/gtest.h>

#include "relay/core/deadline_queue.h"

using rt::DeadlineQueue;

TEST(DeadlineQueue, ExpiresInOrderAtTheDeadline) {
    DeadlineQueue<int> q(1000);
    q.start(1, 0);
    q.start(2, 400);
    EXPECT_TRUE(q.expired(999).empty());
    EXPECT_EQ(q.expired(1000), (std::vector<int>{1}));
    EXPECT_EQ(q.expired(5000), (std::vector<int>{2}));
    EXPECT_EQ(q.pending_count(), 0u);
}

TEST(DeadlineQueue, FinishedHandlesNeverExpire) {
    DeadlineQueue<int> q(1000);
    q.start(1, 0);
    q.start(2, 0);
    q.finish(1);
    EXPECT_FALSE(q.pending(1));
    EXPECT_EQ(q.expired(2000), (std::vector<int>{2}));
}

TEST(DeadlineQueue, ARestartReplacesTheEarlierDeadline) {
    DeadlineQueue<int> q(1000);
    q.start(7, 0);
    q.start(7, 800);  // e.g. a keep-alive connection's next request
    EXPECT_TRUE(q.expired(1000).empty());
    EXPECT_EQ(q.expired(1800), (std::vector<int>{7}));
}

TEST(DeadlineQueue, AReusedHandleIsANewDeadline) {
    DeadlineQueue<int> q(1000);
    q.start(3, 0);
    q.finish(3);     // the connection went
    q.start(3, 900);  // a new one at the same address
    EXPECT_TRUE(q.expired(1000).empty());
    EXPECT_EQ(q.expired(1900), (std::vector<int>{3}));
}
