"""Parked subscriptions (issue 15), on one relay, with raw Phoenix clients counting ids.
A client's socket dropped (through tests/support/cut_proxy: what the relay wrote before
it noticed still arrives, so the seam is countable) parks its postgres_changes
subscriptions for --resume-window; rejoining with the same user, topic and bindings
adopts them: the reply carries the same id, the kept changes come first (marked
"recovered"), then live ones, every row exactly once and in order. Another user adopts
nothing; a passed window and an overflowed subscription each give a system error saying
since when; 5 000 clients dropping at once stay within --resume-total-bytes."""
import asyncio
import base64
import datetime
import json
import os
import re
import struct
import time

import pytest

from support.cut_proxy import CutProxy
from support.inserter import Inserter
from support.jwt import claims_in
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run, unique_topic

ITEMS = """
CREATE TABLE public.items (id bigserial PRIMARY KEY, n int NOT NULL, pad text);
GRANT SELECT ON public.items TO anon, authenticated;
"""
BINDING = {"event": "INSERT", "schema": "public", "table": "items"}


@pytest.fixture
def items(db, client_roles):
    db.execute(ITEMS)
    return db


@pytest.fixture
def proxies():
    made = []
    yield lambda relay: made.append(CutProxy(relay.port)) or made[-1]
    for p in made:
        p.close()


def metric(relay, name):
    return relay.metrics().get(name)


def changes(msgs, topic):
    return [m for m in msgs if m["topic"] == topic and m["event"] == "postgres_changes"]


def n_of(msg):
    return msg["payload"]["data"]["record"]["n"]


async def joined(url, vsn, topic, token=None):
    """A client of url joined to topic with BINDING, live ("Subscribed to PostgreSQL" seen): (client, id)."""
    c = await PhoenixClient.connect(url, vsn)
    reply = await c.join(topic, join_config(changes=[BINDING]))
    assert reply["status"] == "ok", reply
    sid = reply["response"]["postgres_changes"][0]["id"]
    await c.expect_event(topic, "system", where=lambda p: p["status"] == "ok")
    return c, sid


async def drop(c, proxy, topic):
    """Cuts the client's connection; returns the changes it had received, in order."""
    proxy.cut()
    await c.wait_closed(timeout=15)
    return changes(c.inbox, topic)


async def receive(c, topic, want, timeout=30):
    """Changes on topic until `want` of them arrived (buffered ones first)."""
    got = changes(c.inbox, topic)
    c.inbox[:] = [m for m in c.inbox if m not in got]
    while len(got) < want:
        got.append(await c.expect_event(topic, "postgres_changes", timeout=timeout))
    return got


@pytest.mark.parametrize("vsn", ["1.0.0", "2.0.0"])
def test_a_dropped_client_rejoining_gets_every_row_once_and_in_order(items, relay_factory, proxies, vsn):
    relay = relay_factory(db_dsn=items.dsn).wait_slot()
    token = relay.token()
    drop_and_rejoin(items, relay, proxies(relay), vsn, token, token)


def test_a_rejoin_with_a_refreshed_token_resumes_every_row_once_and_the_row_takes_its_claims(items, relay_factory,
                                                                                           proxies):
    """supabase-js refreshes its token on wake: the rejoin's token has another exp, iat,
    nbf and jti, and the same other claims. It grants the same, so it adopts the parked
    subscription (every row once, in order, no system error), and the row takes its
    claims (realtime.update_claims, in WAL order) for what the decoder decides next."""
    relay = relay_factory(db_dsn=items.dsn).wait_slot()
    now = int(time.time())
    old = relay.token(role="authenticated", sub="user-r", org_id="acme", iat=now, jti="first")
    refreshed = relay.token(role="authenticated", sub="user-r", org_id="acme", exp_in=7200, iat=now + 5, nbf=now,
                            jti="second")
    sid = drop_and_rejoin(items, relay, proxies(relay), "2.0.0", old, refreshed)
    wait_until(lambda: items.scalar("SELECT claims FROM realtime.subscription WHERE id = %s", (sid,)) ==
               claims_in(refreshed), timeout=10, what="the row to take the refreshed claims")
    assert metric(relay, "realtime_resume_claims_changed_total") == 0


def drop_and_rejoin(items, relay, proxy, vsn, token, rejoin_token):
    """A client of token joined, dropped for 5 s under 500 rows/s, rejoining with
    rejoin_token: every row exactly once and in order, the kept ones first; returns the
    subscription id."""
    inserter = Inserter(items.dsn, rate=500)

    async def body():
        topic = unique_topic("resume")
        c, sid = await joined(proxy.url(relay, token, vsn), vsn, topic)
        inserter.start()
        first = await receive(c, topic, 200)
        first += [m for m in await drop(c, proxy, topic) if m not in first]
        wait_until(lambda: metric(relay, "realtime_resume_parked") == 1, timeout=10, what="the subscription parked")
        await asyncio.sleep(5)
        proxy.restore()
        c2 = await PhoenixClient.connect(proxy.url(relay, rejoin_token, vsn), vsn)
        reply = await c2.join(topic, join_config(changes=[BINDING]))
        assert reply["status"] == "ok", reply
        assert reply["response"]["postgres_changes"][0]["id"] == sid, "adopted, not subscribed again"
        await asyncio.sleep(1)
        total = await asyncio.get_running_loop().run_in_executor(None, inserter.stop)
        second = await receive(c2, topic, total - len(first))
        await c2.assert_silent(1, lambda m: m["event"] == "postgres_changes")

        ns = [n_of(m) for m in first + second]
        assert ns == list(range(total)), f"{len(ns)} of {total}: first break at {next((i for i, n in enumerate(ns) if n != i), None)}"
        assert all(m["payload"]["ids"] == [sid] for m in first + second)
        flags = [bool(m["payload"].get("recovered")) for m in second]
        kept = flags.count(True)
        assert kept > 0 and flags == [True] * kept + [False] * (len(flags) - kept), \
            "the kept changes come first, then live ones"
        assert not any(m["payload"].get("recovered") for m in first)
        assert not [m for m in c2.inbox if m["event"] == "system" and m["payload"]["status"] == "error"]
        assert metric(relay, "realtime_resume_recovered_total") == 1
        assert metric(relay, "realtime_resume_parked") == 0
        return sid
    return run(body(), timeout=150)


def test_another_user_with_the_same_topic_and_bindings_adopts_nothing(items, relay_factory, proxies):
    relay = relay_factory(db_dsn=items.dsn).wait_slot()
    proxy = proxies(relay)

    async def body():
        topic = unique_topic("resume")
        token_a = relay.token(sub="user-a", role="authenticated")
        c, sid = await joined(proxy.url(relay, token_a, "2.0.0"), "2.0.0", topic)
        await drop(c, proxy, topic)
        items.execute("INSERT INTO items (n) SELECT generate_series(0, 2)")
        wait_until(lambda: metric(relay, "realtime_resume_kept_changes") == 3, timeout=15, what="3 kept changes")

        other, other_sid = await joined(relay.url(relay.token(sub="user-b", role="authenticated"), "2.0.0"),
                                        "2.0.0", topic)
        assert other_sid != sid
        items.execute("INSERT INTO items (n) VALUES (3)")
        got = await receive(other, topic, 1)
        assert [n_of(m) for m in got] == [3] and not got[0]["payload"].get("recovered")
        await other.assert_silent(1, lambda m: m["event"] == "postgres_changes")

        # The same role with another sub adopts nothing either; user-a does.
        proxy.restore()
        mine = await PhoenixClient.connect(proxy.url(relay, token_a, "2.0.0"), "2.0.0")
        reply = await mine.join(topic, join_config(changes=[BINDING]))
        assert reply["response"]["postgres_changes"][0]["id"] == sid
        got = await receive(mine, topic, 4)
        assert [n_of(m) for m in got] == [0, 1, 2, 3]
        assert [bool(m["payload"].get("recovered")) for m in got] == [True, True, True, True]
    run(body(), timeout=90)


def parse_since(message):
    m = re.search(r"since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", message)
    assert m, message
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


async def told_missed(c, topic, why, left):
    """The system error of a rejoin that missed changes: why, and since about when it left."""
    err = await c.expect_event(topic, "system", where=lambda p: p["status"] == "error")
    p = err["payload"]
    assert p["extension"] == "postgres_changes" and why in p["message"], p
    assert abs((parse_since(p["message"]) - left).total_seconds()) < 5


def test_a_rejoin_after_the_window_is_told_it_missed_changes_since_it_left(items, relay_factory, proxies):
    relay = relay_factory(db_dsn=items.dsn, args=["--resume-window", "2"]).wait_slot()
    proxy = proxies(relay)

    async def body():
        topic = unique_topic("resume")
        c, sid = await joined(proxy.url(relay, vsn="2.0.0"), "2.0.0", topic)
        left = datetime.datetime.now(datetime.timezone.utc)
        await drop(c, proxy, topic)
        items.execute("INSERT INTO items (n) VALUES (0)")
        wait_until(lambda: not items.scalar("SELECT count(*) FROM realtime.subscription WHERE id = %s", (sid,)),
                   timeout=20, what="the parked row to go after the window")
        assert metric(relay, "realtime_resume_expired_total") == 1
        proxy.restore()
        c2 = await PhoenixClient.connect(proxy.url(relay, vsn="2.0.0"), "2.0.0")
        reply = await c2.join(topic, join_config(changes=[BINDING]))
        assert reply["status"] == "ok" and reply["response"]["postgres_changes"][0]["id"] != sid
        await told_missed(c2, topic, "resume window (2 s)", left)
        # Subscribed again: live changes flow, nothing of the missed one.
        await c2.expect_event(topic, "system", where=lambda p: p["status"] == "ok")
        items.execute("INSERT INTO items (n) VALUES (1)")
        assert [n_of(m) for m in await receive(c2, topic, 1)] == [1]
    run(body(), timeout=90)


def test_an_overflowed_subscription_delivers_what_it_kept_then_the_error(items, relay_factory, proxies):
    relay = relay_factory(db_dsn=items.dsn, args=["--resume-max-changes", "5"]).wait_slot()
    proxy = proxies(relay)

    async def body():
        topic = unique_topic("resume")
        token = relay.token()
        c, sid = await joined(proxy.url(relay, token, "2.0.0"), "2.0.0", topic)
        await drop(c, proxy, topic)
        received = metric(relay, "realtime_changes_received_total")
        for n in range(20):
            items.execute("INSERT INTO items (n) VALUES (%s)", (n,))
        wait_until(lambda: metric(relay, "realtime_changes_received_total") >= received + 20, timeout=15,
                   what="the 20 changes to reach the relay")
        assert metric(relay, "realtime_resume_overflows_total") == 1
        proxy.restore()
        c2 = await PhoenixClient.connect(proxy.url(relay, token, "2.0.0"), "2.0.0")
        reply = await c2.join(topic, join_config(changes=[BINDING]))
        assert reply["response"]["postgres_changes"][0]["id"] == sid
        err = await c2.expect_event(topic, "system", where=lambda p: p["status"] == "error")
        assert "more changed while the connection was away" in err["payload"]["message"], err
        kept = changes(c2.inbox, topic)  # what arrived before the error
        assert [n_of(m) for m in kept] == [0, 1, 2, 3, 4] and all(m["payload"]["recovered"] for m in kept)
        c2.inbox.clear()
        items.execute("INSERT INTO items (n) VALUES (100)")
        assert [n_of(m) for m in await receive(c2, topic, 1)] == [100]
    run(body(), timeout=90)


DOCS = """
CREATE TABLE public.docs (id bigserial PRIMARY KEY, org text NOT NULL, n int NOT NULL);
GRANT SELECT ON public.docs TO authenticated;
ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY same_org ON public.docs FOR SELECT TO authenticated USING (org = auth.jwt() ->> 'org_id');
"""
DOCS_BINDING = {"event": "INSERT", "schema": "public", "table": "docs"}


def test_a_rejoin_whose_token_has_other_claims_gets_nothing_decided_with_the_old_ones(app_db, relay_factory, proxies):
    """Same role and sub, another org_id, which the policy reads: what the parked
    subscription kept was decided with the old org, so none of it is delivered; the join
    is subscribed anew with the new claims and told since when it missed changes."""
    items = app_db
    items.execute(DOCS)
    relay = relay_factory(db_dsn=items.dsn).wait_slot()
    proxy = proxies(relay)

    async def body():
        topic = unique_topic("resume")
        acme = relay.token(sub="user-a", role="authenticated", org_id="acme")
        c = await PhoenixClient.connect(proxy.url(relay, acme, "2.0.0"), "2.0.0")
        reply = await c.join(topic, join_config(changes=[DOCS_BINDING]))
        assert reply["status"] == "ok", reply
        sid = reply["response"]["postgres_changes"][0]["id"]
        await c.expect_event(topic, "system", where=lambda p: p["status"] == "ok")
        items.execute("INSERT INTO docs (org, n) VALUES ('globex', 0), ('acme', 1)")
        assert [n_of(m) for m in await receive(c, topic, 1)] == [1], "the policy reads org_id"
        left = datetime.datetime.now(datetime.timezone.utc)
        await drop(c, proxy, topic)
        wait_until(lambda: metric(relay, "realtime_resume_parked") == 1, timeout=10, what="the subscription parked")
        items.execute("INSERT INTO docs (org, n) VALUES ('acme', 2), ('globex', 3), ('acme', 4)")
        wait_until(lambda: metric(relay, "realtime_resume_kept_changes") == 2, timeout=15,
                   what="the 2 changes acme may see kept")

        proxy.restore()
        globex = relay.token(sub="user-a", role="authenticated", org_id="globex")
        c2 = await PhoenixClient.connect(proxy.url(relay, globex, "2.0.0"), "2.0.0")
        reply = await c2.join(topic, join_config(changes=[DOCS_BINDING]))
        assert reply["status"] == "ok", reply
        assert reply["response"]["postgres_changes"][0]["id"] != sid, "subscribed anew, not adopted"
        await told_missed(c2, topic, "claims changed", left)
        await c2.expect_event(topic, "system", where=lambda p: p["status"] == "ok")
        items.execute("INSERT INTO docs (org, n) VALUES ('acme', 5), ('globex', 6)")
        got = await receive(c2, topic, 1)
        assert [n_of(m) for m in got] == [6] and not got[0]["payload"].get("recovered")
        await c2.assert_silent(1, lambda m: m["event"] == "postgres_changes")
        assert metric(relay, "realtime_resume_claims_changed_total") == 1
        assert metric(relay, "realtime_resume_recovered_total") == 0
        assert metric(relay, "realtime_resume_parked") == 0 and metric(relay, "realtime_resume_kept_changes") == 0
        wait_until(lambda: not items.scalar("SELECT count(*) FROM realtime.subscription WHERE id = %s", (sid,)),
                   timeout=10, what="the old claims' row to go")
    run(body(), timeout=90)


ALICE = "11111111-1111-4111-8111-111111111111"
MEMBERS_READ = """
CREATE TABLE public.rooms_users (user_id uuid NOT NULL, room_topic text NOT NULL);
GRANT SELECT ON public.rooms_users TO authenticated;
CREATE POLICY "members read" ON realtime.messages FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM public.rooms_users
                  WHERE user_id = (SELECT auth.uid()) AND room_topic = (SELECT realtime.topic())));
"""


def test_a_private_rejoin_runs_the_read_check_again_and_a_user_who_lost_access_is_refused(app_db, relay_factory,
                                                                                         proxies):
    """Adoption on a private channel comes after the join's read check, run again with the
    rejoin's token: a member resumes (same id, the kept changes recovered); once removed
    from the room, the same user's rejoin is refused and gets nothing kept."""
    db = app_db
    db.execute(ITEMS + MEMBERS_READ)
    relay = relay_factory(db_dsn=db.dsn).wait_slot()
    proxy = proxies(relay)
    topic = unique_topic("private")
    room = topic.split(":", 1)[1]
    db.execute("INSERT INTO rooms_users VALUES (%s, %s)", (ALICE, room))
    token = relay.token(sub=ALICE, role="authenticated")
    config = join_config(private=True, changes=[BINDING])

    async def rejoin():
        proxy.restore()
        c = await PhoenixClient.connect(proxy.url(relay, token, "2.0.0"), "2.0.0")
        return c, await c.join(topic, config)

    async def body():
        c, reply = await rejoin()
        assert reply["status"] == "ok", reply
        sid = reply["response"]["postgres_changes"][0]["id"]
        await c.expect_event(topic, "system", where=lambda p: p["status"] == "ok")
        await drop(c, proxy, topic)
        db.execute("INSERT INTO items (n) VALUES (1), (2)")
        wait_until(lambda: metric(relay, "realtime_resume_kept_changes") == 2, timeout=15, what="2 kept changes")

        checks = metric(relay, "realtime_authorization_checks_total")
        c, reply = await rejoin()
        assert reply["status"] == "ok" and reply["response"]["postgres_changes"][0]["id"] == sid, reply
        assert metric(relay, "realtime_authorization_checks_total") > checks, "the read check ran again"
        got = await receive(c, topic, 2)
        assert [n_of(m) for m in got] == [1, 2] and all(m["payload"]["recovered"] for m in got)

        await drop(c, proxy, topic)
        db.execute("DELETE FROM rooms_users WHERE user_id = %s", (ALICE,))
        db.execute("INSERT INTO items (n) VALUES (3)")
        wait_until(lambda: metric(relay, "realtime_resume_kept_changes") == 1, timeout=15, what="1 kept change")
        c, reply = await rejoin()
        assert reply == {"status": "error", "response": {
            "reason": f"Unauthorized: You do not have permissions to read from this Channel topic: {room}"}}, reply
        await c.assert_silent(1, lambda m: m["event"] == "postgres_changes")
        assert metric(relay, "realtime_resume_recovered_total") == 1, "refused, not resumed"
    run(body(), timeout=90)


async def light_join(port, path_and_query, topic):
    """A minimal WebSocket client (5 000 of websockets' would weigh on the test machine):
    upgrade, one vsn 1.0.0 phx_join with BINDING, wait for its ok reply. (reader, writer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 101 " in head.split(b"\r\n", 1)[0] + b" ", head
    text = json.dumps({"topic": topic, "event": "phx_join", "payload": {"config": join_config(changes=[BINDING])},
                       "ref": "1", "join_ref": "1"}).encode()
    mask = os.urandom(4)
    header = bytes([0x81]) + (bytes([0x80 | len(text)]) if len(text) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(text)))
    writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text)))
    buf = b""
    while b"phx_reply" not in buf:
        chunk = await asyncio.wait_for(reader.read(65536), 60)
        assert chunk, "closed before the join reply"
        buf += chunk
    assert b'"status":"ok"' in buf, buf[:300]
    return reader, writer


def test_a_storm_of_5000_disconnects_stays_within_the_memory_bound(items, relay_factory):
    bound = 2 << 20
    relay = relay_factory(db_dsn=items.dsn, args=["--resume-total-bytes", str(bound)]).wait_slot()
    clients = int(os.environ.get("RESUME_STORM_CLIENTS", "5000"))

    async def body():
        topic = unique_topic("storm")
        path = f"/socket/websocket?apikey={relay.token()}&vsn=1.0.0"
        gate = asyncio.Semaphore(100)

        async def one():
            async with gate:
                return await light_join(relay.port, path, topic)
        conns = await asyncio.gather(*(one() for _ in range(clients)))
        wait_until(lambda: metric(relay, "realtime_subscriptions") == clients, timeout=60, what="every binding bound")
        rss_joined = relay.rss_kb()
        for _, writer in conns:  # all at once
            writer.close()
        await asyncio.gather(*(writer.wait_closed() for _, writer in conns), return_exceptions=True)
        await asyncio.to_thread(wait_until, lambda: metric(relay, "realtime_resume_parked") == clients, 60, 0.2,
                                "every subscription parked")
        received = metric(relay, "realtime_changes_received_total")
        for batch in range(10):
            items.execute("INSERT INTO items (n, pad) SELECT g, repeat('x', 1000) FROM generate_series(%s, %s) g",
                          (batch * 10, batch * 10 + 9))
        # The rows' SUBSCRIBED documents may still be arriving (they count as received too):
        # wait for the changes themselves, which make most parked subscriptions overflow.
        wait_until(lambda: metric(relay, "realtime_changes_received_total") >= received + 100
                   and metric(relay, "realtime_resume_overflows_total") >= clients * 9 // 10, timeout=60,
                   what="the 100 changes to reach the relay and overflow most parked subscriptions")
        kept = metric(relay, "realtime_resume_kept_bytes")
        assert 0 < kept <= bound
        assert metric(relay, "realtime_resume_parked") == clients
        grown_mb = (relay.rss_kb() - rss_joined) / 1024
        print(f"\n{clients} parked, {kept / 2**20:.2f} MiB kept (bound {bound / 2**20:.0f} MiB), "
              f"{metric(relay, 'realtime_resume_overflows_total'):.0f} overflowed, RSS {grown_mb:+.1f} MiB since joined")
        assert grown_mb < 64, f"the relay grew {grown_mb:.0f} MiB with {kept / 2**20:.1f} MiB kept"
    run(body(), timeout=300)


def test_realtime_js_resumes_by_itself_with_every_row_once_and_in_order(items, relay_factory, proxies):
    relay = relay_factory(db_dsn=items.dsn).wait_slot()
    realtime_js_resume(items, relay, proxies(relay), {})


def test_realtime_js_resumes_after_set_auth_gave_it_a_refreshed_token_while_the_socket_was_down(
        items, relay_factory, proxies):
    """setAuth with a token of a later exp and iat while the socket is down (supabase-js
    on wake): realtime-js rejoins with it, and the parked subscription is adopted all the
    same; its row takes the refreshed claims."""
    relay = relay_factory(db_dsn=items.dsn).wait_slot()
    now = int(time.time())
    refreshed = relay.token(exp_in=7200, iat=now + 1)

    def the_rows_claims():  # after the rejoin, while the channel is joined
        wait_until(lambda: items.execute("SELECT claims FROM realtime.subscription") == [(claims_in(refreshed),)],
                   timeout=10, what="the row to take the refreshed claims")

    realtime_js_resume(items, relay, proxies(relay), {"RT_REFRESHED_TOKEN": refreshed}, rejoined=the_rows_claims)
    assert metric(relay, "realtime_resume_claims_changed_total") == 0


def realtime_js_resume(items, relay, proxy, env, rejoined=lambda: None):
    from support.realtime_js import require_node, run_scenario
    require_node()
    inserter = Inserter(items.dsn, rate=500)

    def restore():
        time.sleep(5)
        proxy.restore()

    def stop():
        inserter.stop()
        rejoined()
        items.execute("INSERT INTO items (n) VALUES (-1)")

    summary = run_scenario("resume.mjs", relay, db=items, deadline_s=90,
                           env={"RT_ENDPOINT": f"ws://127.0.0.1:{proxy.port}/socket", **env},
                           actions={"start": inserter.start, "cut": proxy.cut, "restore": restore, "stop": stop})
    assert summary["recovered"] > 0 and summary["rows"] == inserter.count
    assert metric(relay, "realtime_resume_recovered_total") == 1
    return summary
