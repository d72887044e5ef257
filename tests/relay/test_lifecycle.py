"""The relay's process lifecycle: command line, graceful shutdown on SIGTERM (sockets
closed with 1012, slot released, this node's rows kept for resuming, exit 0), stale rows
of its node id removed after --resume-grace, and a restart (SIGTERM) or a crash (SIGKILL)
in the middle of a stream of inserts losing none of them for a client that reconnects and
rejoins."""
import asyncio
import subprocess
import threading
import time

import psycopg2

from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run, unique_topic
from support.rawws import RawWebSocket
from support.relay import RELAY_BIN

ITEMS = """
CREATE TABLE public.items (id bigserial PRIMARY KEY, n int NOT NULL);
GRANT SELECT ON public.items TO anon, authenticated;
"""
BINDING = {"event": "INSERT", "schema": "public", "table": "items"}


def node_rows(db, node_id):
    return db.scalar("SELECT count(*) FROM realtime.subscription WHERE node_id = %s", (node_id,))


def slot_active(db):
    return db.scalar("SELECT active FROM pg_replication_slots WHERE slot_name = 'realtime_relay'")


def test_help_lists_every_flag():
    out = subprocess.run([RELAY_BIN, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for flag in ("--node-id", "--listen", "--db", "--slot", "--no-replication", "--jwt-secret", "--cluster-bind",
                 "--peers", "--region", "--db-region", "--log-level", "--max-connections",
                 "--max-channels-per-client", "--max-joins-per-second", "--max-events-per-second",
                 "--max-payload-bytes", "--max-frame-bytes", "--max-send-queue-bytes", "--idle-timeout", "--resume-grace",
                 "--db-pool-size", "--db-statement-timeout-ms", "--handover-backlog-bytes",
                 "--policy-headers"):
        assert flag in out.stdout, flag
    assert "REALTIME_JWT_SECRET" in out.stdout


def test_bad_command_lines_fail_with_one_line():
    cases = [
        ["--jwt-secret", "s" * 32, "--listen", "nonsense"],
        ["--jwt-secret", "s" * 32, "--no-such-flag"],
        ["--listen", "127.0.0.1:0"],  # no secret
        ["--jwt-secret", "s" * 32, "--max-events-per-second", "0"],
        ["--jwt-secret", "s" * 32, "--policy-headers", "x-ok,not a header"],
        ["--jwt-secret", "s" * 32, "--listen", "127.0.0.1:1", "--db",
         "host=127.0.0.1 port=1 dbname=nope connect_timeout=2"],  # unreachable database
    ]
    for args in cases:
        out = subprocess.run([RELAY_BIN] + args, capture_output=True, text=True, timeout=30)
        assert out.returncode != 0 and out.returncode > 0, (args, out.returncode)  # an exit, not a signal
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("realtime-relay: "), (args, out.stderr)


def test_environment_variables_configure(relay_factory):
    relay = relay_factory(env={"REALTIME_MAX_CHANNELS_PER_CLIENT": "1"})

    async def body():
        c = await PhoenixClient.open(relay, "2.0.0")
        assert (await c.join(unique_topic()))["status"] == "ok"
        assert (await c.join(unique_topic()))["response"]["reason"] == "ChannelRateLimitReached: Too many channels"
    run(body())


def test_sigterm_graceful_shutdown(db, client_roles, relay_factory, vsn):
    """SIGTERM drains as a Supabase node does: each socket closes with 1012 (service
    restart) and no phx_close or phx_error, so clients reconnect and rejoin; the slot is
    released; this node's subscription rows stay, as after a crash, for its clients to
    resume within --resume-grace."""
    db.execute(ITEMS)
    db.execute("SELECT realtime.subscribe('some-other-node', 'items')")
    relay = relay_factory(db_dsn=db.dsn, node_id="term-node").wait_slot()

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        reply = await c.join(topic, join_config(changes=[BINDING]))
        assert reply["status"] == "ok"
        await c.expect_event(topic, "system")
        assert node_rows(db, "term-node") == 1
        assert slot_active(db) is True

        rc = await asyncio.get_running_loop().run_in_executor(None, relay.stop)
        assert rc == 0
        assert await c.wait_closed() == 1012
        closing = [m for m in c.inbox if m["event"] in ("phx_close", "phx_error")]
        assert not closing, closing
    run(body())
    assert node_rows(db, "term-node") == 1  # kept for the returning client
    assert node_rows(db, "some-other-node") == 1
    wait_until(lambda: slot_active(db) is False, timeout=10, what="the slot to be released")
    assert "received SIGTERM" in relay.log_text()


def test_restart_with_sigterm_in_a_stream_of_inserts_loses_nothing(db, client_roles, relay_factory):
    """A rolling restart of a single relay: SIGTERM while rows are inserted, start again
    with the same node id; the client (closed with 1012) reconnects, rejoins, adopts its
    subscription and receives every row, also those committed while no relay ran."""
    db.execute(ITEMS)
    relay = relay_factory(db_dsn=db.dsn, node_id="rolling-node", args=["--resume-grace", "30"]).wait_slot()
    restart_and_count(db, relay, relay.stop, closed_with=1012)


def test_sigterm_with_a_client_that_never_reads(relay_factory):
    """Shutdown does not wait for a client that neither reads nor answers the close."""
    relay = relay_factory(args=["--max-events-per-second", "100000", "--max-send-queue-bytes", str(64 << 20)])
    raw = RawWebSocket(relay.port, f"/socket/websocket?apikey={relay.token()}&vsn=1.0.0", rcvbuf=4096)
    raw.send_text('{"topic":"realtime:stuck","event":"phx_join","ref":"1","join_ref":"1","payload":{}}')

    async def body():
        sender = await PhoenixClient.open(relay, "2.0.0")
        await sender.join("realtime:stuck")
        for i in range(500):  # 8 MB: more than the sockets hold, less than the queue limit
            await sender.broadcast("realtime:stuck", "bulk", {"data": "x" * 16384})
        await sender.heartbeat()
    run(body())
    assert relay.metrics()["realtime_slow_client_disconnects_total"] == 0
    started = time.monotonic()
    assert relay.stop(timeout=20) == 0
    assert time.monotonic() - started < 10
    raw.close()


def test_stale_rows_of_this_node_removed_after_grace(db, client_roles, relay_factory):
    db.execute(ITEMS)
    stale = [db.scalar("SELECT realtime.subscribe('stale-node', 'items', 'INSERT', NULL, %s)",
                       ('{"role": "anon"}',)) for _ in range(2)]
    other = db.scalar("SELECT realtime.subscribe('other-node', 'items')")
    grace = 3
    started = time.monotonic()
    relay = relay_factory(db_dsn=db.dsn, node_id="stale-node", args=["--resume-grace", str(grace)])

    async def body():
        # A client with other claims does not adopt a stale row: it gets a new one.
        c = await PhoenixClient.open(relay, "2.0.0", token=relay.token(role="authenticated"))
        reply = await c.join(unique_topic(), join_config(changes=[BINDING]))
        assert reply["status"] == "ok"
        new_id = reply["response"]["postgres_changes"][0]["id"]
        assert new_id not in stale
        wait_until(lambda: not db.execute("SELECT 1 FROM realtime.subscription WHERE id = ANY(%s)", (stale,)),
                   timeout=grace + 20, what="the stale rows to be removed")
        assert time.monotonic() - started >= grace  # kept for the grace period first
        # The live subscription and other nodes' rows stay.
        assert node_rows(db, "stale-node") == 1 and node_rows(db, "other-node") == 1
        assert db.scalar("SELECT count(*) FROM realtime.subscription WHERE id IN (%s, %s)", (new_id, other)) == 2
    run(body())
    assert "keeping 2 subscriptions of a previous run" in relay.log_text()


def test_crash_in_a_stream_of_inserts_loses_nothing(db, client_roles, relay_factory):
    """SIGKILL the relay while rows are being inserted; restart it with the same node
    id; the client reconnects, rejoins with the same binding, adopts its subscription
    and receives every row."""
    db.execute(ITEMS)
    relay = relay_factory(db_dsn=db.dsn, node_id="resume-node", args=["--resume-grace", "30"]).wait_slot()
    restart_and_count(db, relay, relay.kill)


class Inserter:
    """Inserts total rows of items, one per transaction every 10 ms, in a thread."""

    def __init__(self, dsn, total):
        self.dsn, self.total = dsn, total
        self.inserted, self.errors = [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        try:
            conn = psycopg2.connect(self.dsn)
            conn.autocommit = True
            with conn.cursor() as cur:
                for n in range(self.total):
                    if self.stop.is_set():
                        break
                    cur.execute("INSERT INTO items (n) VALUES (%s)", (n,))
                    self.inserted.append(n)
                    time.sleep(0.01)
            conn.close()
        except Exception as exc:  # reported by the test body
            self.errors.append(exc)


def restart_and_count(db, relay, stop_relay, closed_with=None, total=400):
    """The client of relay is subscribed to items while rows are inserted; stop_relay
    ends the relay in the middle, it starts again; the client reconnects, rejoins with
    the same binding and adopts its subscription: every row must reach it."""
    inserter = Inserter(db.dsn, total)

    async def body():
        token = relay.token()  # the rejoin carries the same token (the same claims)
        c = await PhoenixClient.open(relay, "2.0.0", token=token)
        topic = unique_topic("resume")
        reply = await c.join(topic, join_config(changes=[BINDING]))
        sid = reply["response"]["postgres_changes"][0]["id"]
        await c.expect_event(topic, "system")

        inserter.thread.start()
        try:
            seen = set()
            while len(seen) < 40:
                msg = await c.expect_event(topic, "postgres_changes", timeout=20)
                seen.add(msg["payload"]["data"]["record"]["n"])
            await asyncio.get_running_loop().run_in_executor(None, stop_relay)
            code = await c.wait_closed(timeout=10)
            if closed_with is not None:
                assert code == closed_with
            seen.update(m["payload"]["data"]["record"]["n"] for m in c.inbox if m["event"] == "postgres_changes")
            stopped_at = len(inserter.inserted)

            await asyncio.get_running_loop().run_in_executor(None, relay.start)
            restarted_at = len(inserter.inserted)
            c = await PhoenixClient.open(relay, "2.0.0", token=token)
            reply = await c.join(topic, join_config(changes=[BINDING]))
            assert reply["status"] == "ok", reply
            assert reply["response"]["postgres_changes"][0]["id"] == sid  # adopted, not a new row

            deadline = time.monotonic() + 90
            while len(inserter.inserted) < total or not seen.issuperset(inserter.inserted):
                assert not inserter.errors, inserter.errors
                assert time.monotonic() < deadline, \
                    f"missing {sorted(set(inserter.inserted) - seen)[:20]} of {len(inserter.inserted)} " \
                    f"(stopped at {stopped_at})"
                try:
                    msg = await c.expect_event(topic, "postgres_changes", timeout=1)
                except TimeoutError:
                    continue
                seen.add(msg["payload"]["data"]["record"]["n"])
        finally:
            inserter.stop.set()
            await asyncio.get_running_loop().run_in_executor(None, inserter.thread.join)
        assert not inserter.errors, inserter.errors
        assert len(inserter.inserted) == total and seen == set(range(total))
        # The stop was in the middle of the stream, and rows committed while no relay ran.
        assert stopped_at < restarted_at < total
        assert node_rows(db, relay.node_id) == 1
    run(body(), timeout=180)
