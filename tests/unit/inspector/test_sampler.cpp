// relay/inspector/sampler: per-second samples of every node's rates, handed out after a seq.
#include <gtest/gtest.h>

#include "relay/core/json.h"
#include "relay/inspector/sampler.h"

using namespace rt;
using namespace rt::inspector;

namespace {

NodeView node(const char* name, int64_t at_ms, uint64_t in, bool up = true, uint64_t incarnation = 1) {
    NodeView v;
    v.node = name;
    v.up = up;
    v.incarnation = incarnation;
    v.reading.at_ms = at_ms;
    v.reading.messages_in = in;
    v.reading.connections = 3;
    return v;
}

double in_rate(const std::string& sample_json, size_t i) {
    json::Document d;
    EXPECT_TRUE(json::parse(d, sample_json)) << sample_json;
    return (*json::member(d, "nodes"))[static_cast<rapidjson::SizeType>(i)]["in"].GetDouble();
}

}  // namespace

TEST(Sampler, RatesBetweenReadingsAndDownNodesLeftOut) {
    Sampler s;
    EXPECT_EQ(s.last(), "null");
    s.add({node("a", 1000, 100), node("b", 500, 0, false)}, 1);
    EXPECT_EQ(in_rate(s.last(), 0), 0);
    s.add({node("a", 3000, 300)}, 2);
    EXPECT_EQ(in_rate(s.last(), 0), 100);  // 200 in 2 s
    json::Document d;
    ASSERT_TRUE(json::parse(d, s.last()));
    EXPECT_EQ(json::member(d, "nodes")->Size(), 1u);
    EXPECT_EQ(json::member(d, "seq")->GetUint64(), 2u);
}

TEST(Sampler, AnUnchangedPeerReadingKeepsItsRatesAndANewIncarnationStartsOver) {
    Sampler s;
    s.add({node("b", 1000, 0)}, 1);
    s.add({node("b", 2000, 50)}, 2);
    s.add({node("b", 2000, 50)}, 3);  // no heartbeat since
    EXPECT_EQ(in_rate(s.last(), 0), 50);
    s.add({node("b", 100, 5, true, 2)}, 4);  // restarted
    EXPECT_EQ(in_rate(s.last(), 0), 0);
}

TEST(Sampler, JsonAfterHandsOutTheNewerSamples) {
    Sampler s;
    for (int i = 0; i < 3; ++i) s.add({node("a", 1000 * i, 0)}, i);
    json::Document d;
    ASSERT_TRUE(json::parse(d, s.json_after(1)));
    EXPECT_EQ(json::member(d, "seq")->GetUint64(), 3u);
    ASSERT_EQ(json::member(d, "samples")->Size(), 2u);
    EXPECT_EQ((*json::member(d, "samples"))[0]["seq"].GetUint64(), 2u);
    ASSERT_TRUE(json::parse(d, s.json_after(3)));
    EXPECT_EQ(json::member(d, "samples")->Size(), 0u);
    for (size_t i = 0; i < Sampler::kKept + 5; ++i) s.add({node("a", 0, 0)}, 0);
    ASSERT_TRUE(json::parse(d, s.json_after(0)));
    EXPECT_EQ(json::member(d, "samples")->Size(), Sampler::kKept);
}
