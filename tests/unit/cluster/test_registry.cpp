// cluster/registry: one beat's decisions against a recording RegistryDb (no database).
#include <gtest/gtest.h>

#include "cluster/registry.h"
#include "fakes.h"
#include "relay/core/log.h"

using namespace rt;
using namespace rt::cluster;

namespace {

class FakeRegistryDb : public RegistryDb {
public:
    bool beat_age_s(const std::string&, const std::string&, double& age) override {
        calls.push_back("age");
        if (!last_beat_age) return false;
        age = *last_beat_age;
        return true;
    }
    bool record_beat(const std::string& node, const std::string& endpoint, const std::string&, const std::string& region,
                     const std::string&, std::string& error) override {
        calls.push_back("beat " + node + " " + endpoint + " " + region);
        if (!beat_ok) error = "registry is read-only";
        return beat_ok;
    }
    bool own_subscriptions(const std::string&, std::unordered_set<int64_t>& ids) override {
        calls.push_back("own");
        ids = surviving;
        return true;
    }
    bool peers(const std::string&, std::vector<ListedPeer>&) override {
        calls.push_back("peers");
        return true;
    }
    bool remove_dead_nodes(const std::string&, double stale_s, std::vector<std::pair<std::string, std::string>>& removed,
                           std::string&) override {
        calls.push_back("remove " + std::to_string(static_cast<int>(stale_s)));
        removed = {{"node-x", "3"}};
        return true;
    }

    bool unsubscribe_node(const std::string& node, std::string& removed, std::string&) override {
        calls.push_back("unsubscribe " + node);
        removed = "2";
        return true;
    }

    std::optional<double> last_beat_age;
    bool beat_ok = true;
    std::unordered_set<int64_t> surviving{5};
    std::vector<std::string> calls;
};

struct RegistryTest : ::testing::Test {
    void SetUp() override {
        log::set_level(log::Level::Error);
        cfg.node_id = "node-a";
        cfg.region = "eu";
        cfg.resume_grace_s = 10;
        cfg.peer_down_ms = 3000;
    }
    Registry registry(bool holder) {
        return Registry(cfg, [](std::function<void(RegistryDb*)>) {}, nullptr, [holder] { return holder; }, &loop);
    }
    Config cfg;
    rt::testing::RecordingInbound loop;
    FakeRegistryDb db;
};

}  // namespace

TEST_F(RegistryTest, RemovalWaitsForTheDownPeriodAndTheResumeGrace) {
    EXPECT_DOUBLE_EQ(Registry::removal_after_s(cfg), 12.0);  // resume grace + 2 s
    cfg.peer_down_ms = 20000;
    EXPECT_DOUBLE_EQ(Registry::removal_after_s(cfg), 22.0);  // down period + two beats
}

TEST_F(RegistryTest, TheFirstBeatRecordsItself) {
    Registry r = registry(false);
    r.beat(db);
    EXPECT_EQ(db.calls, (std::vector<std::string>{"beat node-a  eu"}));
}

TEST_F(RegistryTest, ASlotHolderRemovesDeadNodes) {
    Registry r = registry(true);
    r.beat(db);
    EXPECT_EQ(db.calls.back(), "remove 12");
}

TEST_F(RegistryTest, ANodeSilentLongerThanTheRemovalDelayReportsItsSurvivingRows) {
    Registry r = registry(false);
    r.beat(db);
    db.last_beat_age = 11.0;  // paused, but not long enough
    r.beat(db);
    EXPECT_TRUE(loop.present.empty());
    db.last_beat_age = 13.0;
    r.beat(db);
    ASSERT_EQ(loop.present.size(), 1u);
    EXPECT_EQ(loop.present[0], (std::unordered_set<int64_t>{5}));
}

TEST_F(RegistryTest, AFailedBeatStopsThere) {
    Registry r = registry(true);
    db.beat_ok = false;
    r.beat(db);
    EXPECT_EQ(db.calls, (std::vector<std::string>{"beat node-a  eu"}));
    db.beat_ok = true;
    db.last_beat_age = 60.0;
    r.beat(db);  // never beaten: its own age is not asked yet
    EXPECT_EQ(db.calls[1], "beat node-a  eu");
    EXPECT_TRUE(loop.present.empty());
}

TEST_F(RegistryTest, ASlotHolderRemovesTheRowsOfNodesTheHandOverGaveUpOn) {
    Registry holder = registry(true);
    holder.remove_node("node-z");
    holder.beat(db);
    EXPECT_EQ(db.calls[1], "unsubscribe node-z");
    db.calls.clear();
    holder.beat(db);  // once
    EXPECT_EQ(db.calls, (std::vector<std::string>{"age", "beat node-a  eu", "remove 12"}));
}
