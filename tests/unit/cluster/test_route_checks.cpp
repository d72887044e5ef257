// cluster/route_checks: joins of a new channel wait until every peer that is up routes
// it here, or until the deadline; probes are repeated until then. Peers expected but not
// heard yet (placeholders) hold the join back until they are heard, then are probed.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cluster/route_checks.h"

using namespace rt::cluster;

namespace {

struct RouteChecksTest : ::testing::Test {
    RouteChecks checks;
    std::set<std::string> up{"b", "c"};
    std::map<std::string, std::string> heard;  // placeholder -> node heard there
    std::set<std::string> expected;            // placeholders still expected
    RouteChecks::Resolve is_up = [this](const std::string& n) -> std::string {
        if (!RouteChecks::is_placeholder(n)) return up.count(n) ? n : "";
        if (heard.count(n)) return heard[n];
        return expected.count(n) ? n : "";
    };
    RouteChecks::Out out;

    uint64_t start(int64_t now = 0, int64_t deadline = 1000) {
        checks.start("realtime:room", {"b", "c"}, now, deadline, is_up, out);
        EXPECT_EQ(out.probes.size(), 2u) << "every peer is probed at once";
        return out.probes.empty() ? 0 : out.probes[0].second.token;
    }
};

}  // namespace

TEST_F(RouteChecksTest, ReadyOnceEveryPeerConfirmed) {
    uint64_t token = start();
    EXPECT_EQ(out.probes[0].second.topic, "realtime:room");
    EXPECT_TRUE(out.ready.empty());
    checks.confirmed("realtime:room", "b", token, out);
    EXPECT_TRUE(out.ready.empty());
    checks.confirmed("realtime:room", "c", token, out);
    EXPECT_EQ(out.ready, std::vector<std::string>{"realtime:room"});
    EXPECT_TRUE(checks.empty());
}

TEST_F(RouteChecksTest, AStaleTokenOrAnotherTopicConfirmsNothing) {
    uint64_t token = start();
    checks.confirmed("realtime:room", "b", token + 1, out);
    checks.confirmed("realtime:other", "b", token, out);
    checks.confirmed("realtime:room", "c", token, out);
    EXPECT_TRUE(out.ready.empty()) << "b has not confirmed this check";
}

TEST_F(RouteChecksTest, ProbesRepeatEveryIntervalUntilAnswered) {
    uint64_t token = start();
    out = {};
    checks.check(RouteChecks::kProbeIntervalMs - 1, is_up, out);
    EXPECT_TRUE(out.probes.empty());
    checks.confirmed("realtime:room", "b", token, out);
    checks.check(RouteChecks::kProbeIntervalMs, is_up, out);
    ASSERT_EQ(out.probes.size(), 1u);
    EXPECT_EQ(out.probes[0].first, "c");
}

TEST_F(RouteChecksTest, APeerGoingDownNoLongerHoldsTheJoin) {
    start();
    checks.confirmed("realtime:room", "b", out.probes[0].second.token, out);
    up.erase("c");
    checks.check(5, is_up, out);
    EXPECT_EQ(out.ready, std::vector<std::string>{"realtime:room"});
    EXPECT_TRUE(out.warnings.empty());
}

TEST_F(RouteChecksTest, TheDeadlineAnswersTheJoinWithAWarning) {
    start(0, 1000);
    checks.check(999, is_up, out);
    EXPECT_TRUE(out.ready.empty());
    checks.check(1000, is_up, out);
    EXPECT_EQ(out.ready, std::vector<std::string>{"realtime:room"});
    ASSERT_EQ(out.warnings.size(), 1u);
    EXPECT_NE(out.warnings[0].find("2 peers did not confirm"), std::string::npos);
}

TEST_F(RouteChecksTest, NoPeersUpIsReadyAtOnceAndCancelForgets) {
    up.clear();
    checks.start("realtime:alone", {}, 0, 1000, is_up, out);
    EXPECT_EQ(out.ready, std::vector<std::string>{"realtime:alone"});
    RouteChecks::Out more;
    up = {"b"};
    checks.start("realtime:room", {"b"}, 0, 1000, is_up, more);
    checks.cancel("realtime:room");
    EXPECT_TRUE(checks.empty());
}

TEST_F(RouteChecksTest, AnExpectedPeerHoldsTheJoinUntilHeardThenIsProbed) {
    up = {"b"};
    expected = {"@tcp://d:1"};
    checks.start("realtime:room", {"b", "@tcp://d:1"}, 0, 1000, is_up, out);
    ASSERT_EQ(out.probes.size(), 1u) << "nobody to probe at d yet";
    uint64_t token = out.probes[0].second.token;
    checks.confirmed("realtime:room", "b", token, out);
    EXPECT_TRUE(out.ready.empty()) << "d is expected: the join waits for it";
    out = {};
    up.insert("d");
    heard["@tcp://d:1"] = "d";
    checks.check(RouteChecks::kProbeIntervalMs, is_up, out);
    ASSERT_EQ(out.probes.size(), 1u);
    EXPECT_EQ(out.probes[0].first, "d");
    checks.confirmed("realtime:room", "d", token, out);
    EXPECT_EQ(out.ready, std::vector<std::string>{"realtime:room"});
}

TEST_F(RouteChecksTest, APlaceholderNoLongerExpectedStopsCounting) {
    up.clear();
    expected = {"@registry"};
    checks.start("realtime:room", {"@registry"}, 0, 1000, is_up, out);
    EXPECT_TRUE(out.ready.empty());
    expected.clear();
    checks.check(1, is_up, out);
    EXPECT_EQ(out.ready, std::vector<std::string>{"realtime:room"});
    EXPECT_TRUE(out.warnings.empty());
}

TEST_F(RouteChecksTest, PeersLearnedMeanwhileJoinEveryCheckInProgress) {
    up = {"b"};
    expected = {"@registry"};
    checks.start("realtime:room", {"b", "@registry"}, 0, 1000, is_up, out);
    uint64_t token = out.probes[0].second.token;
    checks.confirmed("realtime:room", "b", token, out);
    // The registry answers: c is live (not heard yet); the registry no longer counts.
    expected = {"@tcp://c:1"};
    checks.expect({"@tcp://c:1"});
    checks.check(2, is_up, out);
    EXPECT_TRUE(out.ready.empty()) << "c is now expected";
    heard["@tcp://c:1"] = "c";
    up.insert("c");
    out = {};
    checks.check(RouteChecks::kProbeIntervalMs + 2, is_up, out);
    ASSERT_EQ(out.probes.size(), 1u);
    checks.confirmed("realtime:room", "c", token, out);
    EXPECT_EQ(out.ready, std::vector<std::string>{"realtime:room"});
}
