// relay/protocol/http_batch: POST /api/broadcast's body, checked as Supabase's changeset
// checks it.
#include <gtest/gtest.h>

#include "relay/protocol/http_batch.h"

using namespace rt;

TEST(HttpBatch, GoodMessagesKeepTheirPayloadsAsWrittenAndIdsBecomeMeta) {
    http_batch::Batch b = http_batch::read(
        R"({"messages":[{"topic":"room","event":"e","payload":{ "t" : 1814.7000000029802 }},
            {"topic":"realtime:x","event":"f","payload":{},"private":"true","id":"8B4E6B8F-0F44-4A7F-9F3B-1F1B2D3C4E5F"}]})",
        1000);
    ASSERT_TRUE(b.errors_json.empty()) << b.errors_json;
    ASSERT_EQ(b.messages.size(), 2u);
    EXPECT_EQ(b.messages[0].topic, "realtime:room");
    EXPECT_EQ(b.messages[0].payload, R"({"t":1814.7000000029802})");
    EXPECT_EQ(b.messages[0].meta_json, "");
    EXPECT_FALSE(b.messages[0].is_private);
    EXPECT_EQ(b.messages[1].topic, "realtime:x");
    EXPECT_TRUE(b.messages[1].is_private);
    EXPECT_EQ(b.messages[1].meta_json, R"({"id":"8b4e6b8f-0f44-4a7f-9f3b-1f1b2d3c4e5f"})");
}

TEST(HttpBatch, ABadMessageRefusesTheBatchWithEachMessagesErrors) {
    http_batch::Batch b = http_batch::read(
        R"({"messages":[{"topic":"t"},{"payload":{"d":1}},{"topic":"t","payload":{"d":1},"event":"e"},
            {"topic":"t","event":"e","payload":"text"},{"topic":"t","event":"e","payload":{"x":"0123456789"}}]})",
        10);
    EXPECT_TRUE(b.messages.empty());
    EXPECT_EQ(b.errors_json,
              R"({"errors":{"messages":[{"payload":["can't be blank"],"event":["can't be blank"]},)"
              R"({"topic":["can't be blank"],"event":["can't be blank"]},{},{"payload":["is invalid"]},)"
              R"({"payload":["Payload size exceeds tenant limit"]}]}})");
}

TEST(HttpBatch, NoMessagesOrNotAList) {
    for (const char* body : {"{}", R"({"messages":[]})", R"({"messages":null})", "[]"})
        EXPECT_EQ(http_batch::read(body, 10).errors_json, R"({"errors":{"messages":["can't be blank"]}})") << body;
    for (const char* body : {R"({"messages":{}})", R"({"messages":[1]})"})
        EXPECT_EQ(http_batch::read(body, 10).errors_json, R"({"errors":{"messages":["is invalid"]}})") << body;
}

TEST(HttpBatch, UuidsAsEctoCastsThem) {
    EXPECT_EQ(http_batch::uuid("8b4e6b8f0f444a7f9f3b1f1b2d3c4e5f"),
              std::optional<std::string>("8b4e6b8f-0f44-4a7f-9f3b-1f1b2d3c4e5f"));
    EXPECT_EQ(http_batch::uuid("8b4e6b8f-0f44-4a7f-9f3b-1f1b2d3c4e5"), std::nullopt);
    EXPECT_EQ(http_batch::uuid("8b4e6b8f-0f44-4a7f-9f3b-1f1b2d3c4e5g"), std::nullopt);
    EXPECT_EQ(http_batch::uuid("8b4e6b8f00f44-4a7f-9f3b-1f1b2d3c4e5f"), std::nullopt);
}
