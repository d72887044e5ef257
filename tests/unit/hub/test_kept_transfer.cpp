// relay/hub/kept_transfer: a live node's kept changes, merged with what waited for the
// join reply (the holder's recovered rows, live ones): commit order, each change once.
#include <gtest/gtest.h>

#include "relay/hub/kept_transfer.h"

using namespace rt;

namespace {

ChangeEvent at(uint64_t lsn, uint32_t index, std::string payload) {
    ChangeEvent ev;
    ev.pos = {lsn, index};
    ev.groups.push_back({{77}, std::move(payload)});
    return ev;
}

std::vector<std::string> payloads_of(const std::vector<ChangeEvent>& evs) {
    std::vector<std::string> out;
    for (const ChangeEvent& ev : evs) out.push_back(ev.groups[0].payload);
    return out;
}

}  // namespace

TEST(KeptTransfer, HandedChangesGoBeforeTheHoldersAndLiveOnesInCommitOrderEachOnce) {
    // Waiting for the reply: the holder's copy of what the old node had not confirmed
    // (0x300, 0x400), then live rows after the move (0x900).
    std::vector<ChangeEvent> replay = {at(0x300, 0, "holder 3"), at(0x400, 0, "holder 4"), at(0x900, 0, "live 9")};
    // The old node kept 0x100 to 0x300 (0x300 it had kept but not confirmed: both have it).
    std::vector<ChangeEvent> handed = {at(0x100, 0, "kept 1"), at(0x200, 1, "kept 2.1"), at(0x200, 2, "kept 2.2"),
                                       at(0x300, 0, "kept 3")};
    kept_transfer::merge(replay, std::move(handed));
    EXPECT_EQ(payloads_of(replay), (std::vector<std::string>{"kept 1", "kept 2.1", "kept 2.2", "holder 3", "holder 4",
                                                             "live 9"}));
}

TEST(KeptTransfer, NothingHandedLeavesTheReplayAsItIs) {
    std::vector<ChangeEvent> replay = {at(0x300, 0, "a"), at(0x300, 0, "b")};
    kept_transfer::merge(replay, {});
    EXPECT_EQ(replay.size(), 2u) << "only a merge deduplicates";
}

TEST(KeptTransfer, AskedIdsTheOtherNodeDidNotKeepAreNamed) {
    KeptHandOver h;
    h.handed = {77};
    EXPECT_EQ(kept_transfer::not_handed({77, 78}, h), (std::vector<int64_t>{78}));
    EXPECT_TRUE(kept_transfer::not_handed({77}, h).empty());
}
