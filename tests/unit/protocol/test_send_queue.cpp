// relay/protocol/send_queue: a connection's FIFO of shared frames, counted in message bytes.
#include <gtest/gtest.h>

#include <string>

#include "relay/protocol/frame.h"
#include "relay/protocol/send_queue.h"

using rt::FrameRef;
using rt::SendQueue;

namespace {

FrameRef frame(const std::string& text, bool binary = false) {
    std::string buf = rt::frame_buffer();
    buf += text;
    return rt::make_frame(std::move(buf), binary);
}

std::string text_of(rt::Frame& f) { return std::string(reinterpret_cast<char*>(f.data()), f.size()); }

}  // namespace

TEST(Frame, SizeExcludesTheHeadroom) {
    FrameRef f = frame("hello", true);
    EXPECT_EQ(f->size(), 5u);
    EXPECT_EQ(f->buf.size(), rt::kHeadroom + 5);
    EXPECT_TRUE(f->binary);
    EXPECT_EQ(text_of(*f), "hello");
}

TEST(SendQueue, StartsEmpty) {
    SendQueue q;
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.frames(), 0u);
    EXPECT_EQ(q.bytes(), 0);
}

TEST(SendQueue, IsFifoAndCountsMessageBytes) {
    SendQueue q;
    q.push(frame("one"));
    q.push(frame("three"));
    EXPECT_FALSE(q.empty());
    EXPECT_EQ(q.frames(), 2u);
    EXPECT_EQ(q.bytes(), 8);
    EXPECT_EQ(text_of(q.front()), "one");
    q.pop();
    EXPECT_EQ(q.frames(), 1u);
    EXPECT_EQ(q.bytes(), 5);
    EXPECT_EQ(text_of(q.front()), "three");
    q.pop();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0);
}

TEST(SendQueue, SharedFrameCountsOncePerPushAndStaysAlive) {
    SendQueue a, b;
    FrameRef f = frame("shared");
    a.push(f);
    a.push(f);
    b.push(f);
    EXPECT_EQ(f.use_count(), 4);
    EXPECT_EQ(a.bytes(), 12);
    a.pop();
    EXPECT_EQ(f.use_count(), 3);
    a.clear();
    EXPECT_EQ(f.use_count(), 2);
    EXPECT_EQ(text_of(b.front()), "shared");
}

TEST(SendQueue, ClearEmptiesEverything) {
    SendQueue q;
    for (int i = 0; i < 10; ++i) q.push(frame("x"));
    q.pop();
    q.clear();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.frames(), 0u);
    EXPECT_EQ(q.bytes(), 0);
    q.push(frame("after"));
    EXPECT_EQ(text_of(q.front()), "after");
    EXPECT_EQ(q.bytes(), 5);
}

TEST(SendQueue, ReusableAfterABurstIsDrained) {
    SendQueue q;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 200; ++i) q.push(frame(std::to_string(i)));
        for (int i = 0; i < 200; ++i) {
            ASSERT_EQ(text_of(q.front()), std::to_string(i));
            q.pop();
        }
        EXPECT_TRUE(q.empty());
        EXPECT_EQ(q.bytes(), 0);
    }
}

TEST(SendQueue, InterleavedPushAndPopKeepOrder) {
    SendQueue q;
    int next_in = 0, next_out = 0;
    for (int step = 0; step < 500; ++step) {
        q.push(frame(std::to_string(next_in++)));
        if (step % 3 != 0) {
            ASSERT_EQ(text_of(q.front()), std::to_string(next_out++));
            q.pop();
        }
    }
    EXPECT_EQ(q.frames(), static_cast<size_t>(next_in - next_out));
    while (!q.empty()) {
        ASSERT_EQ(text_of(q.front()), std::to_string(next_out++));
        q.pop();
    }
    EXPECT_EQ(next_out, next_in);
}
