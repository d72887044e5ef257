// relay/slot/router: plugin documents to this node's loop and to peers (through the
// hand-over), SQL broadcasts to both; row level security decided on the holder (column
// views, checks made in batches, failed bindings), each node getting only its own part,
// in commit order per node.
#include <gtest/gtest.h>

#include "fakes.h"
#include "relay/slot/check_pool.h"
#include "relay/slot/router.h"

using namespace rt;
using namespace rt::testing;

namespace {

class FakePeers : public SlotPeers {
public:
    bool change(const std::string& node, const HandOverTag& tag, const ChangeEvent& ev) override {
        changes.emplace_back(node, ev);
        tags.push_back(tag);
        return reachable;
    }
    void base_notice(const std::string& node, const HandOverTag& tag) override { notices.emplace_back(node, tag); }
    void broadcast(const BroadcastMsg& msg) override { broadcasts.push_back(msg); }
    bool reachable = true;
    std::vector<std::pair<std::string, ChangeEvent>> changes;
    std::vector<HandOverTag> tags;
    std::vector<std::pair<std::string, HandOverTag>> notices;
    std::vector<BroadcastMsg> broadcasts;
};

// Records the calls; the test finishes them with finish().
class FakeChecks : public CheckPort {
public:
    void start(CheckCall call) override { calls.push_back(std::move(call)); }
    std::vector<std::pair<uint64_t, CheckOutcome>> take_done() override { return std::exchange(done, {}); }
    bool ready() const override { return !done.empty(); }
    int wake_fd() const override { return -1; }

    void finish(size_t i, CheckOutcome outcome) { done.emplace_back(calls.at(i).id, std::move(outcome)); }

    std::vector<CheckCall> calls;
    std::vector<std::pair<uint64_t, CheckOutcome>> done;
};

CheckOutcome passing(std::vector<std::pair<int, int64_t>> pairs, std::vector<std::pair<int64_t, std::string>> errors = {}) {
    CheckOutcome o;
    for (auto [row, id] : pairs) o.rows.push_back({row, id, false, ""});
    for (auto& [id, e] : errors) o.rows.push_back({0, id, true, e});
    return o;
}

// A row document as the plugin writes it (parsed, so that views can be narrowed).
PluginDoc doc_of(const std::string& text) {
    PluginDoc d;
    std::string error;
    EXPECT_TRUE(parse_plugin_doc(text, d, error)) << error;
    return d;
}

std::string row_text(uint64_t lsn_low, const std::string& extra) {
    char lsn[32];
    snprintf(lsn, sizeof lsn, "0/%llX", static_cast<unsigned long long>(lsn_low));
    return std::string(R"({"type":"INSERT","schema":"public","table":"todos","commit_lsn":")") + lsn +
           R"(","change_index":0,"columns":[{"name":"id","type":"int8"},{"name":"secret","type":"text"}],)"
           R"("record":{"id":1,"secret":"s"})" +
           (extra.empty() ? "" : "," + extra) + "}";
}

// Views: 15 and 16 on node-a and 17 on node-b wait for check 0, 17 sees only id.
const char* kChecked =
    R"("views":[{"check":0,"targets":{"node-a":[15,16]}},{"check":0,"columns":["id"],"targets":{"node-b":[17]}}],)"
    R"J("checks":[{"role":"authenticated","per_user":false,"quals":["EXISTS (SELECT 1)"]}],"check_row":"(1,s)")J";

PluginDoc row_doc() { return doc_of(row_text(0x500, R"("targets":{"node-a":[1,2],"node-b":[7]})")); }

std::string data_of(const ChangeGroup& g) {
    json::Document d;
    EXPECT_TRUE(json::parse(d, g.payload)) << g.payload;
    const json::Value* data = json::member(d, "data");
    return data ? json::stringify(*json::member(*data, "record")) : "";
}

struct RouterTest : ::testing::Test {
    Metrics metrics;
    RecordingInbound loop;
    FakePeers peers;
    AckTracker ack;
    FakeChecks checks;
    SlotRouter router{"node-a", metrics, loop, &peers, ack, &checks};

    void finish(size_t call, CheckOutcome o) {
        checks.finish(call, std::move(o));
        router.service();
    }
};

}  // namespace

TEST_F(RouterTest, ARowGoesToEachTargetNodeWithItsOwnIds) {
    router.route(row_doc(), 42);
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    const ChangeEvent& local = loop.slot_changes[0];
    EXPECT_EQ(local.kind, ChangeEvent::Kind::Row);
    ASSERT_EQ(local.groups.size(), 1u);
    EXPECT_EQ(local.groups[0].ids, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(local.groups[0].payload.substr(0, 21), R"({"ids":[1,2],"data":{)");
    EXPECT_EQ(local.received_us, 42);
    EXPECT_EQ(local.pos.commit_lsn, 0x500u);
    ASSERT_EQ(peers.changes.size(), 1u);
    EXPECT_EQ(peers.changes[0].first, "node-b");
    EXPECT_EQ(peers.changes[0].second.groups[0].payload.substr(0, 19), R"({"ids":[7],"data":{)");
    EXPECT_EQ(metrics.dropped_messages.load(), 0u);
    EXPECT_TRUE(checks.calls.empty());
}

TEST_F(RouterTest, WhatGoesToTheLoopIsAcknowledgedOnlyOnceProcessed) {
    loop.process_slot = false;
    ack.reached(0x500, 0);
    router.route(row_doc(), 0);
    EXPECT_EQ(ack.position(1000), 0u);
    ack.processed(0x500, 0);
    EXPECT_EQ(ack.position(1000), 0x500u);
}

TEST_F(RouterTest, APeersChangeIsNumberedAndHoldsTheSlotBackUntilConfirmed) {
    ack.restart(9);
    ack.reached(0x500, 0);
    router.route(row_doc(), 0);
    ASSERT_EQ(peers.tags.size(), 1u);
    EXPECT_EQ(peers.tags[0].stream, 9u);
    EXPECT_EQ(peers.tags[0].seq, 1u);
    EXPECT_EQ(peers.tags[0].base, 1u);
    EXPECT_EQ(ack.position(1000), 0x500u) << "up to the change's commit, not past it";
    ack.reached(0x800, 0);
    EXPECT_EQ(ack.position(1000), 0x500u);
    ack.hand_over().confirmed("node-b", {9, 1, false}, 10);
    EXPECT_EQ(ack.position(1000), 0x800u);
}

TEST_F(RouterTest, ASaturatedMeshIsCountedAndTheChangeResentWhenDue) {
    ack.restart(9);
    peers.reachable = false;
    router.route(row_doc(), 0);
    EXPECT_EQ(metrics.mesh_dropped.load(), 1u);
    EXPECT_EQ(metrics.handover_backlog_changes.load(), 1);
    peers.reachable = true;
    std::vector<std::string> gone;
    router.hand_over_due(HandOverBounds{}.resend_after_ms, gone);
    ASSERT_EQ(peers.changes.size(), 2u);
    EXPECT_EQ(peers.tags[1].seq, 1u);
    EXPECT_EQ(metrics.handover_resent.load(), 1u);
    EXPECT_TRUE(gone.empty());
}

TEST_F(RouterTest, ANodeThatNeverConfirmsIsGoneAfterTheBound) {
    ack.restart(9);
    router.route(row_doc(), 0);
    ack.hand_over().left("node-b");
    std::vector<std::string> gone;
    router.hand_over_due(HandOverBounds{}.max_age_ms + 1, gone);
    EXPECT_EQ(gone, (std::vector<std::string>{"node-b"}));
    EXPECT_EQ(metrics.handover_gone.load(), 1u);
    EXPECT_EQ(metrics.handover_dropped.load(), 1u);
    EXPECT_EQ(metrics.handover_backlog_bytes.load(), 0);
}

TEST_F(RouterTest, WithoutAClusterAPeersPartIsCountedAsDropped) {
    SlotRouter alone{"node-a", metrics, loop, nullptr, ack, &checks};
    alone.route(row_doc(), 0);
    EXPECT_EQ(metrics.dropped_messages.load(), 1u);
    EXPECT_EQ(ack.hand_over().size(), 0u) << "nothing kept: nobody would confirm it";
    EXPECT_EQ(loop.slot_changes.size(), 1u) << "this node's part is delivered either way";
}

TEST_F(RouterTest, SubscribedHasNoPayload) {
    PluginDoc d;
    d.type = PluginDoc::Type::Subscribed;
    d.pos = {0x500, 1};
    d.targets = {{"node-a", {4, 5}}};
    router.route(std::move(d), 0);
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    EXPECT_EQ(loop.slot_changes[0].kind, ChangeEvent::Kind::Subscribed);
    ASSERT_EQ(loop.slot_changes[0].groups.size(), 1u);
    EXPECT_EQ(loop.slot_changes[0].groups[0].ids, (std::vector<int64_t>{4, 5}));
    EXPECT_TRUE(loop.slot_changes[0].groups[0].payload.empty());
}

TEST_F(RouterTest, ASqlBroadcastGoesToPeersAndTheLoop) {
    PluginDoc d;
    d.type = PluginDoc::Type::Broadcast;
    d.pos = {0x600, 0};
    d.broadcast.topic = "realtime:room";
    d.broadcast.event = "ev";
    d.broadcast.pos = d.pos;
    router.route(std::move(d), 0);
    ASSERT_EQ(peers.broadcasts.size(), 1u);
    EXPECT_EQ(peers.broadcasts[0].topic, "realtime:room");
    ASSERT_EQ(loop.slot_broadcasts.size(), 1u);
    EXPECT_EQ(loop.slot_broadcasts[0].pos.commit_lsn, 0x600u);
}

TEST_F(RouterTest, AColumnViewGetsItsColumnsAndEachNodeOnlyItsIds) {
    router.route(doc_of(row_text(0x500, R"("targets":{"node-a":[1]},)"
                                        R"("views":[{"columns":["id"],"targets":{"node-a":[2],"node-b":[8]}}])")),
                 0);
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    const ChangeEvent& local = loop.slot_changes[0];
    ASSERT_EQ(local.groups.size(), 2u) << "the whole row and the view: one payload each";
    EXPECT_EQ(local.groups[0].ids, (std::vector<int64_t>{1}));
    EXPECT_EQ(data_of(local.groups[0]), R"({"id":1,"secret":"s"})");
    EXPECT_EQ(local.groups[1].ids, (std::vector<int64_t>{2}));
    EXPECT_EQ(data_of(local.groups[1]), R"({"id":1})");
    EXPECT_EQ(local.groups[1].payload.find("secret"), std::string::npos) << "not even in columns";
    ASSERT_EQ(peers.changes.size(), 1u);
    ASSERT_EQ(peers.changes[0].second.groups.size(), 1u) << "node-b has no whole-row subscriber";
    EXPECT_EQ(peers.changes[0].second.groups[0].ids, (std::vector<int64_t>{8}));
    EXPECT_EQ(data_of(peers.changes[0].second.groups[0]), R"({"id":1})");
}

TEST_F(RouterTest, ViewsWithTheSameColumnsShareOnePush) {
    router.route(doc_of(row_text(0x500, R"("targets":{"node-a":[1]},"views":[{"check":0,"targets":{"node-a":[2]}}],)"
                                        R"J("checks":[{"role":"r","quals":["true"]}],"check_row":"(1,s)")J")),
                 0);
    finish(0, passing({{1, 2}}));
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    ASSERT_EQ(loop.slot_changes[0].groups.size(), 1u);
    EXPECT_EQ(loop.slot_changes[0].groups[0].ids, (std::vector<int64_t>{1, 2}));
}

TEST_F(RouterTest, FailedBindingsAreEndedOnTheirNodeOnly) {
    router.route(doc_of(row_text(0x500, R"("targets":{"node-a":[1]},)"
                                        R"("failed":{"node-b":[{"id":9,"message":"permission denied for table todos"}]})")),
                 0);
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    EXPECT_TRUE(loop.slot_changes[0].notices.empty());
    ASSERT_EQ(peers.changes.size(), 1u);
    const ChangeEvent& b = peers.changes[0].second;
    EXPECT_TRUE(b.groups.empty());
    ASSERT_EQ(b.notices.size(), 1u);
    EXPECT_EQ(b.notices[0].id, 9);
    EXPECT_EQ(b.notices[0].message, "permission denied for table todos");
    EXPECT_TRUE(b.notices[0].ended);
}

TEST_F(RouterTest, CandidatesGetTheRowOnlyIfTheirCheckPassesWithTheirView) {
    router.route(doc_of(row_text(0x500, std::string(R"("targets":{"node-a":[1]},)") + kChecked)), 0);
    ASSERT_EQ(checks.calls.size(), 1u);
    const CheckCall& call = checks.calls[0];
    EXPECT_EQ(call.key.schema, "public");
    EXPECT_EQ(call.key.table, "todos");
    EXPECT_EQ(call.key.role, "authenticated");
    EXPECT_EQ(call.key.quals, (std::vector<std::string>{"EXISTS (SELECT 1)"}));
    EXPECT_EQ(call.rows, (std::vector<std::string>{"(1,s)"}));
    EXPECT_EQ(call.candidates, (std::vector<int64_t>{15, 16, 17}));
    EXPECT_TRUE(loop.slot_changes.empty()) << "node-a's part waits for its check, plain targets included";
    EXPECT_TRUE(peers.changes.empty());

    finish(0, passing({{1, 16}, {1, 17}}));
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    const ChangeEvent& local = loop.slot_changes[0];
    ASSERT_EQ(local.groups.size(), 1u);
    EXPECT_EQ(local.groups[0].ids, (std::vector<int64_t>{1, 16})) << "15 did not pass; 16 has the whole row";
    ASSERT_EQ(peers.changes.size(), 1u);
    EXPECT_EQ(peers.changes[0].second.groups[0].ids, (std::vector<int64_t>{17}));
    EXPECT_EQ(data_of(peers.changes[0].second.groups[0]), R"({"id":1})");
}

TEST_F(RouterTest, AUserWhoseCheckRaisesIsToldOnceAndOthersStillReceive) {
    router.route(doc_of(row_text(0x500, kChecked)), 0);
    router.route(doc_of(row_text(0x600, kChecked)), 0);
    router.route(doc_of(row_text(0x700, kChecked)), 0);
    ASSERT_EQ(checks.calls.size(), 1u) << "the later documents wait for the call in flight";
    finish(0, passing({{1, 16}}, {{15, "boom"}}));
    ASSERT_EQ(checks.calls.size(), 2u);
    EXPECT_EQ(checks.calls[1].rows.size(), 2u) << "both waiting documents in one call";
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    EXPECT_EQ(loop.slot_changes[0].groups[0].ids, (std::vector<int64_t>{16}));
    ASSERT_EQ(loop.slot_changes[0].notices.size(), 1u);
    EXPECT_EQ(loop.slot_changes[0].notices[0].id, 15);
    EXPECT_EQ(loop.slot_changes[0].notices[0].message, "boom");
    EXPECT_FALSE(loop.slot_changes[0].notices[0].ended);

    finish(1, passing({{1, 16}, {2, 16}, {2, 17}}, {{15, "boom"}}));
    ASSERT_EQ(loop.slot_changes.size(), 3u);
    for (size_t i : {1u, 2u}) {
        EXPECT_EQ(loop.slot_changes[i].groups[0].ids, (std::vector<int64_t>{16}));
        EXPECT_TRUE(loop.slot_changes[i].notices.empty()) << "15 was told already";
    }
    ASSERT_EQ(peers.changes.size(), 1u) << "node-b: only the third row passed for 17";
    EXPECT_EQ(peers.changes[0].second.pos.commit_lsn, 0x700u);
}

TEST_F(RouterTest, AFailedCallDeliversNothingToItsCandidatesAndTellsEachOnce) {
    router.route(doc_of(row_text(0x500, std::string(R"("targets":{"node-a":[1]},)") + kChecked)), 0);
    CheckOutcome timeout;
    timeout.ok = false;
    timeout.error = "timed out";
    finish(0, timeout);
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    EXPECT_EQ(loop.slot_changes[0].groups[0].ids, (std::vector<int64_t>{1})) << "plain targets are not held back";
    EXPECT_EQ(loop.slot_changes[0].notices.size(), 2u);
    ASSERT_EQ(peers.changes.size(), 1u);
    EXPECT_TRUE(peers.changes[0].second.groups.empty());
    ASSERT_EQ(peers.changes[0].second.notices.size(), 1u);
    EXPECT_EQ(peers.changes[0].second.notices[0].message, "timed out");
    EXPECT_EQ(metrics.rls_check_failures.load(), 1u);

    router.route(doc_of(row_text(0x600, kChecked)), 0);
    finish(1, timeout);
    EXPECT_EQ(loop.slot_changes.size(), 1u) << "nothing new for node-a: no rows, told already";
    router.route(doc_of(row_text(0x700, kChecked)), 0);
    finish(2, passing({}));
    router.route(doc_of(row_text(0x800, kChecked)), 0);
    finish(3, timeout);
    ASSERT_EQ(loop.slot_changes.size(), 2u) << "a check that succeeded in between: told again";
    EXPECT_EQ(loop.slot_changes[1].notices.size(), 2u);
}

TEST_F(RouterTest, AWaitingPartHoldsBackItsNodeOnlyAndTheAcknowledgement) {
    ack.reached(0x900, 0);
    router.route(doc_of(row_text(0x500, R"("views":[{"check":0,"targets":{"node-b":[17]}}],)"
                                        R"J("checks":[{"role":"r","quals":["q"]}],"check_row":"(1,s)")J")),
                 0);
    router.route(doc_of(row_text(0x600, R"("targets":{"node-a":[1],"node-b":[7]})")), 0);
    ASSERT_EQ(loop.slot_changes.size(), 1u) << "node-a is not waiting for anything";
    EXPECT_EQ(loop.slot_changes[0].pos.commit_lsn, 0x600u);
    EXPECT_TRUE(peers.changes.empty()) << "node-b's later change must not overtake the one waiting";
    EXPECT_EQ(ack.position(1000), 0x500u) << "not past the waiting document";

    finish(0, passing({{1, 17}}));
    ASSERT_EQ(peers.changes.size(), 2u);
    EXPECT_EQ(peers.changes[0].second.pos.commit_lsn, 0x500u);
    EXPECT_EQ(peers.changes[1].second.pos.commit_lsn, 0x600u);
    EXPECT_EQ(ack.position(1000), 0x500u) << "handed on, but node-b has not confirmed";
    ack.hand_over().confirmed("node-b", {ack.hand_over().stream(), 2, false}, 0);
    EXPECT_EQ(ack.position(1000), 0x900u);
    EXPECT_EQ(router.waiting(), 0u);
}

TEST_F(RouterTest, ABroadcastWaitsForEveryPartBeforeItAndLaterPartsWaitForIt) {
    router.route(doc_of(row_text(0x500, std::string(R"("targets":{"node-a":[1]},)") + kChecked)), 0);
    PluginDoc b;
    b.type = PluginDoc::Type::Broadcast;
    b.pos = {0x600, 0};
    b.broadcast.topic = "realtime:room";
    router.route(std::move(b), 0);
    router.route(doc_of(row_text(0x700, R"("targets":{"node-a":[1]})")), 0);
    EXPECT_TRUE(loop.slot_broadcasts.empty());
    EXPECT_TRUE(peers.broadcasts.empty());
    EXPECT_TRUE(loop.slot_changes.empty());
    finish(0, passing({}));
    ASSERT_EQ(loop.slot_changes.size(), 2u);
    EXPECT_EQ(loop.slot_changes[0].pos.commit_lsn, 0x500u);
    EXPECT_EQ(loop.slot_changes[1].pos.commit_lsn, 0x700u);
    ASSERT_EQ(loop.slot_broadcasts.size(), 1u);
    EXPECT_EQ(peers.broadcasts.size(), 1u);
}

TEST_F(RouterTest, ARestartDropsWhatWaitsAndForgetsCallsInFlight) {
    ack.reached(0x900, 0);
    router.route(doc_of(row_text(0x500, kChecked)), 0);
    EXPECT_EQ(router.waiting(), 1u);
    router.restart();
    EXPECT_EQ(router.waiting(), 0u);
    finish(0, passing({{1, 15}}));
    EXPECT_TRUE(loop.slot_changes.empty()) << "the stream sends the document again";
    router.route(doc_of(row_text(0x500, kChecked)), 0);
    ASSERT_EQ(checks.calls.size(), 2u) << "a new call, not behind the forgotten one";
}

TEST_F(RouterTest, WithoutAWayToCheckCandidatesGetNothingAndAreTold) {
    SlotRouter unchecked{"node-a", metrics, loop, &peers, ack, nullptr};
    unchecked.route(doc_of(row_text(0x500, std::string(R"("targets":{"node-a":[1]},)") + kChecked)), 0);
    ASSERT_EQ(loop.slot_changes.size(), 1u);
    EXPECT_EQ(loop.slot_changes[0].groups[0].ids, (std::vector<int64_t>{1}));
    EXPECT_EQ(loop.slot_changes[0].notices.size(), 2u);
}
