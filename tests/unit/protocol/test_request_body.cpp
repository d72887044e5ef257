// relay/protocol/request_body: which bodies are read, and what the others are answered.
#include <gtest/gtest.h>

#include "relay/protocol/request_body.h"

using rt::check_request_body;

namespace {
constexpr int64_t kMax = 1 << 20;
}

TEST(RequestBody, APlainLengthWithinTheLimitIsRead) {
    auto v = check_request_body("42", "", kMax);
    EXPECT_TRUE(v.accepted());
    EXPECT_EQ(v.length, 42);
    EXPECT_TRUE(check_request_body(" 0 ", "", kMax).accepted());
    EXPECT_EQ(check_request_body("1048576", "", kMax).length, kMax);
}

TEST(RequestBody, PastTheLimitIs413) {
    EXPECT_EQ(check_request_body("1048577", "", kMax).status, 413);
    auto v = check_request_body("1000000000000", "", kMax);
    EXPECT_EQ(v.status, 413);
    EXPECT_NE(v.message.find("1048576"), std::string::npos);
    // However many digits: no overflow.
    EXPECT_EQ(check_request_body(std::string(400, '9'), "", kMax).status, 413);
    EXPECT_EQ(check_request_body("9223372036854775807", "", INT64_MAX).status, 0);
    EXPECT_EQ(check_request_body("9223372036854775808", "", INT64_MAX).status, 413);
}

TEST(RequestBody, NegativeOrMalformedIs400) {
    for (const char* bad : {"-1", "+5", "12abc", "1 2", "0x10", "1e3"})
        EXPECT_EQ(check_request_body(bad, "", kMax).status, 400) << bad;
}

TEST(RequestBody, ChunkedOrUnknownLengthIs411) {
    EXPECT_EQ(check_request_body("", "chunked", kMax).status, 411);
    EXPECT_EQ(check_request_body("10", "chunked", kMax).status, 411);  // both: never trust the length
    EXPECT_EQ(check_request_body("", "", kMax).status, 411);
}
