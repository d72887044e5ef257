// relay/hub/access and relay/hub/replay: private channels through the hub, with the
// database's answers given by hand (FakeAccess): the read check at join, the write check
// at the first send or track (pushes wait for it, in order), the recheck on
// access_token, private delivery, and the replay at join without a seam.
#include "hub_fixture.h"

using namespace rt;
using namespace rt::testing;

namespace {

class AccessTest : public HubTest {
public:
    void SetUp() override {
        HubTest::SetUp();
        access_port = &access;
        make_hub();
    }

    static JoinOpts priv(bool self = false, bool presence = false) {
        JoinOpts o;
        o.is_private = "true";
        o.self = self;
        o.presence = presence;
        return o;
    }

    // The answer to the last check asked.
    void answer(Policies p) {
        ASSERT_FALSE(access.checks.empty());
        AccessResult r;
        r.ticket = access.checks.back().ticket;
        r.policies = p;
        hub->on_access_result(r);
    }
    void fail(AccessResult::Failure f, std::string code = "", std::string message = "boom") {
        ASSERT_FALSE(access.checks.empty());
        AccessResult r;
        r.ticket = access.checks.back().ticket;
        r.failure = f;
        r.error_code = std::move(code);
        r.error_message = std::move(message);
        hub->on_access_result(r);
    }

    static Policies read_only() { return {true, true, std::nullopt, std::nullopt}; }
    static Policies writes(bool broadcast, bool presence) { return {std::nullopt, std::nullopt, broadcast, presence}; }

    // Joins privately with read (both extensions) allowed; asserts the ok reply.
    void private_joined(Connection* c, std::string_view topic, JoinOpts o = priv()) {
        EXPECT_TRUE(join(c, topic, o).empty()) << "the reply waits for the read check";
        answer(read_only());
        auto out = take(*c);
        ASSERT_FALSE(out.empty());
        EXPECT_EQ(compact(out[0].payload).substr(0, 14), R"({"status":"ok")") << out[0].raw;
    }

    std::string reason_of(const Out& o) {
        json::Document d;
        json::parse(d, o.payload);
        const json::Value* resp = json::member(d, "response");
        return std::string(json::string_or(resp ? json::member(*resp, "reason") : nullptr, ""));
    }
};

BroadcastMsg sql_broadcast(std::string topic, bool is_private, std::string id, uint64_t lsn) {
    BroadcastMsg b;
    b.topic = std::move(topic);
    b.event = "e";
    b.payload = R"({"n":1})";
    b.is_private = is_private;
    b.id = id;
    b.meta_json = "{\"id\":\"" + id + "\"}";
    b.pos = {lsn, 0};
    return b;
}

}  // namespace

TEST_F(AccessTest, PrivateJoinAsksTheReadCheckAndWaits) {
    Connection* c = connect(Vsn::V2, "user-7");
    EXPECT_TRUE(join(c, "realtime:room1", priv(false, true)).empty());
    ASSERT_EQ(access.checks.size(), 1u);
    const AccessCheck& check = access.checks[0].check;
    EXPECT_EQ(check.topic, "room1");
    EXPECT_TRUE(check.read);
    EXPECT_FALSE(check.write);
    EXPECT_TRUE(check.presence);
    EXPECT_NE(check.claims_json.find("\"sub\":\"user-7\""), std::string::npos);
    EXPECT_EQ(access.checks[0].client, c->id);
    answer({false, true, std::nullopt, std::nullopt});  // presence read alone is enough
    auto out = take(*c);
    ASSERT_GE(out.size(), 1u);
    EXPECT_EQ(out[0].payload, R"({"status":"ok","response":{"postgres_changes":[]}})");
    EXPECT_TRUE(hub->has_channel("realtime:room1", true));
    EXPECT_FALSE(hub->has_channel("realtime:room1", false));
    ASSERT_EQ(cluster.interest.size(), 1u);
    EXPECT_EQ(cluster.interest[0].first, "private:realtime:room1");
}

// Every check of a member (join, write, recheck) carries its connection's upgrade
// headers, for policies that read request.headers.
TEST_F(AccessTest, ChecksCarryTheConnectionsHeaders) {
    Connection* plain = connect(Vsn::V2, "user-7");
    std::string token = plain->token;
    Connection* c = hub->open(nullptr, Vsn::V2, plain->claims, token, R"({"x-room-key":"k1"})");
    EXPECT_TRUE(join(c, "realtime:room1", priv()).empty());
    ASSERT_EQ(access.checks.size(), 1u);
    EXPECT_EQ(access.checks[0].check.headers_json, R"({"x-room-key":"k1"})");
    answer(read_only());
    take(*c);
    broadcast(c, "realtime:room1", "e", R"({"n":1})", "2");
    ASSERT_EQ(access.checks.size(), 2u);
    EXPECT_TRUE(access.checks[1].check.write);
    EXPECT_EQ(access.checks[1].check.headers_json, R"({"x-room-key":"k1"})");
    EXPECT_TRUE(join(plain, "realtime:room1", priv()).empty());
    EXPECT_EQ(access.checks.back().check.headers_json, "{}");
}

TEST_F(AccessTest, RefusalsUseSupabasesTexts) {
    struct Case {
        std::function<void(AccessTest&)> respond;
        std::string reason;
    } cases[] = {
        {[](AccessTest& t) { t.answer({false, false, std::nullopt, std::nullopt}); },
         "Unauthorized: You do not have permissions to read from this Channel topic: room1"},
        {[](AccessTest& t) { t.fail(AccessResult::Failure::Policy, "P0001", "test error"); },
         "Unauthorized: You do not have permissions to read from this Channel topic: room1"},
        {[](AccessTest& t) { t.fail(AccessResult::Failure::Policy, "23514", "no partition"); },
         "MissingPartition: Realtime was unable to find the expected messages partition"},
        {[](AccessTest& t) { t.fail(AccessResult::Failure::Timeout, "57014", "canceling statement due to statement timeout"); },
         "QueryCanceled: canceling statement due to statement timeout"},
        {[](AccessTest& t) { t.fail(AccessResult::Failure::Unreachable); },
         "UnableToConnectToProject: Realtime was unable to connect to the project database"},
    };
    for (const Case& k : cases) {
        Connection* c = connect(Vsn::V2);
        EXPECT_TRUE(join(c, "realtime:room1", priv()).empty());
        k.respond(*this);
        auto out = take(*c);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(reason_of(out[0]), k.reason);
        EXPECT_FALSE(hub->has_channel("realtime:room1", true));
        hub->closed(*c);
    }
}

TEST_F(AccessTest, PrivateOnlyRefusesPublicJoins) {
    cfg.private_only = true;
    make_hub();
    Connection* c = connect(Vsn::V2);
    auto out = join(c, "realtime:room1");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(reason_of(out[0]), "PrivateOnly: This project only allows private channels");
    private_joined(c, "realtime:room1");
}

TEST_F(AccessTest, PrivateAndPublicChannelsOfOneTopicAreApart) {
    Connection* priv_member = connect(Vsn::V2);
    Connection* pub_member = connect(Vsn::V2);
    private_joined(priv_member, "realtime:room1");
    joined(pub_member, "realtime:room1");
    EXPECT_EQ(hub->channel_count(), 2u);
    hub->deliver_broadcast(sql_broadcast("realtime:room1", true, "id-1", 100));
    EXPECT_EQ(with_event(take(*priv_member), "broadcast").size(), 1u);
    EXPECT_TRUE(take(*pub_member).empty());
    hub->deliver_broadcast(sql_broadcast("realtime:room1", false, "id-2", 101));
    EXPECT_TRUE(take(*priv_member).empty());
    EXPECT_EQ(with_event(take(*pub_member), "broadcast").size(), 1u);
}

TEST_F(AccessTest, WithoutBroadcastReadNoBroadcasts) {
    Connection* c = connect(Vsn::V2);
    EXPECT_TRUE(join(c, "realtime:room1", priv()).empty());
    answer({false, true, std::nullopt, std::nullopt});
    take(*c);
    hub->deliver_broadcast(sql_broadcast("realtime:room1", true, "id-1", 100));
    EXPECT_TRUE(take(*c).empty());
}

TEST_F(AccessTest, FirstSendChecksWriteAndLaterPushesWaitInOrder) {
    Connection* sender = connect(Vsn::V2);
    Connection* reader = connect(Vsn::V2);
    JoinOpts o = priv(false);
    o.ack = true;
    private_joined(sender, "realtime:room1", o);
    private_joined(reader, "realtime:room1");
    size_t checks = access.checks.size();
    broadcast(sender, "realtime:room1", "e", R"({"n":1})", "10");
    broadcast(sender, "realtime:room1", "e", R"({"n":2})", "11");
    ASSERT_EQ(access.checks.size(), checks + 1) << "one write check for both";
    const AccessCheck& w = access.checks.back().check;
    EXPECT_FALSE(w.read);
    EXPECT_TRUE(w.write);
    EXPECT_TRUE(w.presence);
    EXPECT_TRUE(take(*reader).empty()) << "nothing before the check answers";
    EXPECT_TRUE(take(*sender).empty());
    answer(writes(true, false));
    auto got = with_event(take(*reader), "broadcast");
    ASSERT_EQ(got.size(), 2u);
    EXPECT_NE(got[0].payload.find("\"n\":1"), std::string::npos);
    EXPECT_NE(got[1].payload.find("\"n\":2"), std::string::npos);
    EXPECT_EQ(with_event(take(*sender), "phx_reply").size(), 2u) << "acks";
    broadcast(sender, "realtime:room1", "e", R"({"n":3})", "12");
    EXPECT_EQ(access.checks.size(), checks + 1) << "the answer is kept";
    EXPECT_EQ(with_event(take(*reader), "broadcast").size(), 1u);
}

TEST_F(AccessTest, DeniedSendIsDroppedWithoutReply) {
    Connection* sender = connect(Vsn::V2);
    Connection* reader = connect(Vsn::V2);
    JoinOpts o = priv(true);
    o.ack = true;
    private_joined(sender, "realtime:room1", o);
    private_joined(reader, "realtime:room1");
    broadcast(sender, "realtime:room1", "e", R"({"n":1})", "10");
    answer(writes(false, false));
    EXPECT_TRUE(take(*sender).empty()) << "no ack, no self broadcast";
    EXPECT_TRUE(take(*reader).empty());
    EXPECT_EQ(metrics.authorization_denied.load(), 1u);
}

TEST_F(AccessTest, FailedWriteCheckDropsItsSendAndIsNotKept) {
    Connection* sender = connect(Vsn::V2);
    Connection* reader = connect(Vsn::V2);
    private_joined(sender, "realtime:room1");
    private_joined(reader, "realtime:room1");
    size_t checks = access.checks.size();
    broadcast(sender, "realtime:room1", "e", R"({"n":1})", "10");
    broadcast(sender, "realtime:room1", "e", R"({"n":2})", "11");
    fail(AccessResult::Failure::Timeout, "57014");
    EXPECT_TRUE(take(*reader).empty());
    ASSERT_EQ(access.checks.size(), checks + 2) << "the next send checks again";
    answer(writes(true, true));
    auto got = with_event(take(*reader), "broadcast");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_NE(got[0].payload.find("\"n\":2"), std::string::npos);
}

TEST_F(AccessTest, TrackChecksPresenceReadAndWrite) {
    Connection* c = connect(Vsn::V2);
    EXPECT_TRUE(join(c, "realtime:room1", priv()).empty());  // presence disabled at the join
    EXPECT_FALSE(access.checks.back().check.presence);
    answer({true, std::nullopt, std::nullopt, std::nullopt});
    take(*c);
    send(c, msg(Vsn::V2, "1", "5", "realtime:room1", "presence",
                R"({"type":"presence","event":"track","payload":{"x":1}})"));
    const AccessCheck& w = access.checks.back().check;
    EXPECT_TRUE(w.read) << "presence read was not checked at the join";
    EXPECT_TRUE(w.write);
    answer({true, true, true, false});
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].event, "phx_reply");
    EXPECT_EQ(out[0].payload, R"({"status":"error","response":{}})");
    EXPECT_EQ(hub->presence().entries(), 0u);
}

TEST_F(AccessTest, PresenceWithheldWithoutPresenceRead) {
    Connection* tracker = connect(Vsn::V2, "a");
    Connection* blind = connect(Vsn::V2, "b");
    EXPECT_TRUE(join(tracker, "realtime:room1", priv(false, true)).empty());
    answer({true, true, std::nullopt, std::nullopt});
    EXPECT_EQ(with_event(take(*tracker), "presence_state").size(), 1u);
    EXPECT_TRUE(join(blind, "realtime:room1", priv(false, true)).empty());
    answer({true, false, std::nullopt, std::nullopt});
    EXPECT_TRUE(with_event(take(*blind), "presence_state").empty());
    send(tracker, msg(Vsn::V2, "1", "5", "realtime:room1", "presence",
                      R"({"type":"presence","event":"track","payload":{"x":1}})"));
    answer(writes(true, true));
    EXPECT_EQ(with_event(take(*tracker), "presence_diff").size(), 1u);
    EXPECT_TRUE(take(*blind).empty());
    ASSERT_FALSE(cluster.presence.empty());
    EXPECT_EQ(cluster.presence.back().topic, "private:realtime:room1") << "peers keep the channels apart too";
}

TEST_F(AccessTest, AccessTokenRechecksReadAndResetsWrite) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o = priv(true);
    private_joined(c, "realtime:room1", o);
    broadcast(c, "realtime:room1", "e", "{}", "10");
    answer(writes(true, true));
    take(*c);
    std::string fresh = token_for("authenticated", "user-1", wall() + 7200);
    send(c, msg(Vsn::V2, "1", "11", "realtime:room1", "access_token", "{\"access_token\":" + q(fresh) + "}"));
    ASSERT_TRUE(access.checks.back().check.read);
    EXPECT_NE(access.checks.back().check.claims_json.find(std::to_string(wall() + 7200)), std::string::npos);
    hub->deliver_broadcast(sql_broadcast("realtime:room1", true, "id-1", 100));
    EXPECT_EQ(with_event(take(*c), "broadcast").size(), 1u) << "the old read holds until the answer";
    size_t checks = access.checks.size();
    answer(read_only());
    broadcast(c, "realtime:room1", "e", "{}", "12");
    EXPECT_EQ(access.checks.size(), checks + 1) << "write checked again with the new token";
}

TEST_F(AccessTest, AccessTokenThatLosesReadShutsTheChannel) {
    struct Case {
        Policies now;
        std::string message;
    } cases[] = {
        {{false, false, std::nullopt, std::nullopt}, "You do not have permissions to read from this Channel topic: room1"},
        {{true, false, std::nullopt, std::nullopt}, "You no longer have permission to read from this Channel topic: room1"},
    };
    for (const Case& k : cases) {
        Connection* c = connect(Vsn::V2);
        private_joined(c, "realtime:room1", priv(false, true));
        take(*c);
        std::string fresh = token_for("authenticated", "user-1", wall() + 7200);
        send(c, msg(Vsn::V2, "1", "11", "realtime:room1", "access_token", "{\"access_token\":" + q(fresh) + "}"));
        answer(k.now);
        auto out = take(*c);
        ASSERT_EQ(out.size(), 2u);
        EXPECT_EQ(out[0].event, "system");
        EXPECT_NE(out[0].payload.find(k.message), std::string::npos) << out[0].payload;
        EXPECT_EQ(out[1].event, "phx_close");
        EXPECT_EQ(c->members.size(), 0u);
        hub->closed(*c);
    }
}

TEST_F(AccessTest, LeavingWhileACheckRunsForgetsIt) {
    Connection* c = connect(Vsn::V2);
    EXPECT_TRUE(join(c, "realtime:room1", priv()).empty());
    send(c, msg(Vsn::V2, "1", "2", "realtime:room1", "phx_leave", "{}"));
    take(*c);
    answer(read_only());
    EXPECT_TRUE(take(*c).empty());
    EXPECT_EQ(hub->channel_count(), 0u);
}

TEST_F(AccessTest, ReplayRefusals) {
    Connection* c = connect(Vsn::V2);
    JoinOpts pub;
    pub.replay = R"({"since":0,"limit":2})";
    auto out = join(c, "realtime:room1", pub);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(reason_of(out[0]), "UnableToReplayMessages: Replay is not allowed for public channels");
    JoinOpts bad = priv();
    bad.replay = R"({"since":"yesterday"})";
    EXPECT_TRUE(join(c, "realtime:room1", bad).empty());
    answer(read_only());
    out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(reason_of(out[0]), "UnableToReplayMessages: Replay params are not valid");
    JoinOpts no_read = priv();
    no_read.replay = R"({"since":0})";
    EXPECT_TRUE(join(c, "realtime:room1", no_read).empty());
    answer({false, true, std::nullopt, std::nullopt});
    out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(reason_of(out[0]), "Unauthorized: You do not have permissions to read from this Channel topic: room1");
    EXPECT_TRUE(access.replays.empty());
}

TEST_F(AccessTest, ReplayHasNoSeam) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o = priv();
    o.replay = R"({"since":1000,"limit":99})";
    EXPECT_TRUE(join(c, "realtime:room1", o).empty());
    answer(read_only());
    ASSERT_EQ(access.replays.size(), 1u) << "the query runs once the channel is routed";
    EXPECT_EQ(access.replays[0].query.topic, "room1");
    EXPECT_EQ(access.replays[0].query.since, 1000);
    EXPECT_EQ(access.replays[0].query.limit, 25);
    EXPECT_TRUE(take(*c).empty());
    // Committed around the query: id-2 is also in its answer, id-3 is not.
    hub->deliver_broadcast(sql_broadcast("realtime:room1", true, "id-2", 100));
    hub->deliver_broadcast(sql_broadcast("realtime:room1", true, "id-3", 101));
    EXPECT_TRUE(take(*c).empty()) << "held until the replay answers";
    ReplayResult r;
    r.ticket = access.replays[0].ticket;
    r.rows = {{"id-1", "old", R"({"v":1})", false}, {"id-2", "e", R"({"n":1})", false}, {"id-b", "bin", "\x01\x02", true}};
    hub->on_replay_result(std::move(r));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 5u);
    EXPECT_EQ(out[0].event, "phx_reply");
    EXPECT_EQ(compact(out[1].payload), R"({"type":"broadcast","event":"old","payload":{"v":1},"meta":{"replayed":true,"id":"id-1"}})");
    EXPECT_NE(out[2].payload.find("\"id\":\"id-2\""), std::string::npos);
    EXPECT_TRUE(out[3].binary) << "a binary row as kind 4";
    EXPECT_NE(out[3].raw.find("\"replayed\":true"), std::string::npos);
    EXPECT_NE(out[4].payload.find("\"id\":\"id-3\""), std::string::npos) << "held, not replayed: delivered after";
    EXPECT_EQ(out[4].payload.find("replayed"), std::string::npos);
    // The slot delivering a replayed message late does not deliver it twice.
    BroadcastMsg late = sql_broadcast("realtime:room1", true, "id-1", 102);
    hub->deliver_broadcast(late);
    EXPECT_TRUE(take(*c).empty());
}

TEST_F(AccessTest, ReplaySkipsBinaryRowsForV1) {
    Connection* c = connect(Vsn::V1);
    JoinOpts o = priv();
    o.replay = R"({"since":0})";
    join(c, "realtime:room1", o);
    answer(read_only());
    ReplayResult r;
    r.ticket = access.replays[0].ticket;
    r.rows = {{"id-b", "bin", "\x01", true}, {"id-j", "json", "{}", false}};
    hub->on_replay_result(std::move(r));
    auto got = with_event(take(*c), "broadcast");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_NE(got[0].payload.find("id-j"), std::string::npos);
}

TEST_F(AccessTest, FailedReplayRefusesTheJoin) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o = priv();
    o.replay = R"({"since":-99999999999999999})";
    join(c, "realtime:room1", o);
    answer(read_only());
    ReplayResult r;
    r.ticket = access.replays[0].ticket;
    r.failure = ReplayResult::Failure::InvalidParams;
    hub->on_replay_result(std::move(r));
    auto out = take(*c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(reason_of(out[0]), "UnableToReplayMessages: Replay params are not valid");
    EXPECT_EQ(hub->channel_count(), 0u);
}

TEST_F(AccessTest, HttpBroadcastCheckAnswersTheCaller) {
    Claims caller;
    caller.json = R"({"role":"authenticated"})";
    std::optional<AccessResult> got;
    hub->authorize_http_broadcast(caller, R"({"x-room-key":"k1"})", "room1", [&](const AccessResult& r) { got = r; });
    ASSERT_EQ(access.checks.size(), 1u);
    EXPECT_EQ(access.checks[0].check.headers_json, R"({"x-room-key":"k1"})");
    EXPECT_FALSE(access.checks[0].check.read);
    EXPECT_TRUE(access.checks[0].check.write);
    EXPECT_EQ(access.checks[0].check.claims_json, caller.json);
    answer(writes(true, false));
    ASSERT_TRUE(got);
    EXPECT_TRUE(got->policies.broadcast_write.value_or(false));
}

std::vector<std::string> broadcast_ids(const std::vector<Out>& outs) {
    std::vector<std::string> ids;
    for (const Out& out : with_event(outs, "broadcast")) {
        json::Document d;
        json::parse(d, out.payload);
        const json::Value* meta = json::member(d, "meta");
        ids.emplace_back(meta ? json::string_or(json::member(*meta, "id"), "") : "");
    }
    return ids;
}

// A replay cut by its limit: held messages committed before its read (older than its
// window: Supabase would never deliver them) are not delivered after it, newer ones
// are, each once.
TEST_F(AccessTest, HeldMessagesOlderThanTheReplayWindowAreDropped) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o = priv();
    o.replay = R"({"since":0,"limit":2})";
    join(c, "realtime:room1", o);
    answer(read_only());
    for (int i = 1; i <= 4; ++i)
        hub->deliver_broadcast(sql_broadcast("realtime:room1", true, "id-" + std::to_string(i), 100 + i));
    ReplayResult r;
    r.ticket = access.replays[0].ticket;
    r.read_lsn = 104;  // id-4 (at 104) committed after the read began
    r.rows = {{"id-2", "e", "{}", false}, {"id-3", "e", "{}", false}};
    hub->on_replay_result(std::move(r));
    EXPECT_EQ(broadcast_ids(take(*c)), (std::vector<std::string>{"id-2", "id-3", "id-4"}));
}

// A slot behind the database: messages committed before the replay's read reach the
// node only after the member was admitted. Those the replay left out (older than its
// window) are not delivered late, nor are the replayed ones; those committed after the
// read are. A client's broadcast (not from the slot) held during the replay is live.
TEST_F(AccessTest, LateSlotMessagesCoveredByTheReplayAreNotDelivered) {
    Connection* c = connect(Vsn::V2);
    JoinOpts o = priv();
    o.replay = R"({"since":0,"limit":2})";
    join(c, "realtime:room1", o);
    answer(read_only());
    BroadcastMsg from_client;
    from_client.topic = "realtime:room1";
    from_client.event = "typing";
    from_client.payload = "{}";
    from_client.is_private = true;
    hub->deliver_broadcast(from_client);
    ReplayResult r;
    r.ticket = access.replays[0].ticket;
    r.read_lsn = 200;
    r.rows = {{"id-2", "e", "{}", false}, {"id-3", "e", "{}", false}};
    hub->on_replay_result(std::move(r));
    EXPECT_EQ(broadcast_ids(take(*c)), (std::vector<std::string>{"id-2", "id-3", ""}));
    for (int i = 1; i <= 3; ++i)  // committed before the read, streamed only now
        hub->deliver_broadcast(sql_broadcast("realtime:room1", true, "id-" + std::to_string(i), 100 + i));
    EXPECT_TRUE(take(*c).empty());
    hub->deliver_broadcast(sql_broadcast("realtime:room1", true, "id-5", 205));
    EXPECT_EQ(broadcast_ids(take(*c)), (std::vector<std::string>{"id-5"}));
}
