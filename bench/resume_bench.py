#!/usr/bin/python3
"""Resuming after a disconnect (issue 15, hub/resume): what it costs to come back.

Method. One relay with a local Postgres 15 (the tests' PgServer, or REALTIME_TEST_DSN).
N clients (minimal asyncio WebSocket clients, vsn 1.0.0; tiny 50, small and full 1 000)
each join a channel of their own with the binding INSERT on public.bench_resume (no
filter: every row matches every client). All of them drop their sockets at once; their
subscriptions are parked. K rows are inserted (tiny 20, small and full 100), each kept
for every parked subscription. Then all N reconnect and rejoin at once (the same
topics and bindings: each adopts its parked subscription), and the run measures, from
the first rejoin sent:
- time to the last join reply, and to the last recovered change at the last client
  (every client must get its K changes, each marked "recovered", in order);
- the relay's memory: RSS with N clients joined, then with N subscriptions parked and
  nothing kept, then with the K changes kept; per parked subscription:
  (parked - no clients at all) / N is not measurable (the sockets' memory goes back
  to the allocator, not the kernel), so the bookkeeping is read from the relay's own
  accounting (realtime_resume_kept_bytes / N, which counts a change shared by several
  subscriptions once for each) and the RSS growth while the K changes were kept.

Also: the first recovered change's time, the relay's and this driver's CPU and the
machine's busy time during the rejoin (on 2 shared cores the driver, one Python thread,
is the larger consumer: it is not the relay's time alone).

Usage: BENCH_SIZE=tiny|small|full /usr/bin/python3 bench/resume_bench.py
BENCH_RESUME_CLIENTS=N sets the number of clients; BENCH_RESUME_RELAY_ARGS adds relay
flags (e.g. "--resume-total-bytes 4294967296").
Writes bench/results/resume.json and prints a table.
"""
import asyncio
import base64
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from changes_bench import BenchPostgres  # noqa: E402

TABLE = "bench_resume"
BINDING = {"event": "INSERT", "schema": "public", "table": TABLE}


def frame(obj):
    text = json.dumps(obj).encode()
    mask = os.urandom(4)
    n = len(text)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text))


class Reader:
    """Server frames (unmasked text) off a stream, as JSON. Frames are read at an offset
    into the bytes read so far, which are cut once per read, not once per frame (that
    copied the rest of a 64 KiB read for each of its frames)."""

    def __init__(self, reader):
        self.reader, self.buf, self.off = reader, b"", 0

    def frame(self):
        """(opcode, body) of the next whole frame in the buffer, or None."""
        buf, off = self.buf, self.off
        if len(buf) - off < 2:
            return None
        n, head = buf[off + 1] & 0x7F, 2
        if n == 126:
            if len(buf) - off < 4:
                return None
            n, head = struct.unpack_from("!H", buf, off + 2)[0], 4
        elif n == 127:
            if len(buf) - off < 10:
                return None
            n, head = struct.unpack_from("!Q", buf, off + 2)[0], 10
        if len(buf) - off < head + n:
            return None
        self.off = off + head + n
        return buf[off] & 0x0F, buf[off + head:self.off]

    async def next(self):
        while True:
            f = self.frame()
            if f is None:
                chunk = await self.reader.read(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf, self.off = self.buf[self.off:] + chunk, 0
                continue
            opcode, body = f
            if opcode == 8:
                raise ConnectionError(f"closed by the relay: {body[:2].hex()} {body[2:].decode(errors='replace')}")
            if opcode == 1:
                return json.loads(body)
            # ping, pong: skipped


async def connect(port, token):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /socket/websocket?apikey={token}&vsn=1.0.0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await reader.readuntil(b"\r\n\r\n")
    return Reader(reader), writer


def join_msg(topic):
    config = {"broadcast": {"self": False, "ack": False}, "presence": {"enabled": False, "key": ""},
              "postgres_changes": [BINDING], "private": False}
    return frame({"topic": topic, "event": "phx_join", "payload": {"config": config}, "ref": "1", "join_ref": "1"})


async def join(port, token, topic):
    r, w = await connect(port, token)
    w.write(join_msg(topic))
    while True:
        m = await r.next()
        if m["event"] == "phx_reply":
            assert m["payload"]["status"] == "ok", m
            return r, w, m["payload"]["response"]["postgres_changes"][0]["id"]


async def rejoin_and_count(port, token, topic, sid, want, t0, stamps):
    r, w = await connect(port, token)
    w.write(join_msg(topic))
    got = []
    while len(got) < want:
        m = await r.next()  # the caller's deadline covers the whole rejoin (a wait_for per frame was a task each)
        if m["event"] == "phx_reply":
            assert m["payload"]["response"]["postgres_changes"][0]["id"] == sid, "not adopted"
            stamps["reply"].append(time.monotonic() - t0)
        elif m["event"] == "system" and m["payload"].get("status") == "error":
            raise AssertionError(f"{topic} was told it missed changes after {len(got)} recovered: {m['payload']}")
        elif m["event"] == "postgres_changes":
            assert m["payload"].get("recovered") is True, m
            if not got:
                stamps["first"].append(time.monotonic() - t0)
            got.append(m["payload"]["data"]["record"]["n"])
            stamps["changes"] = stamps.get("changes", 0) + 1
    assert got == list(range(want)), got[:10]
    stamps["last"].append(time.monotonic() - t0)
    w.close()


def metric(relay, name):
    return relay.metrics().get(name, 0)


async def scenario(relay, db, clients, missed):
    token = relay.token()
    topics = [f"realtime:resume-{i}" for i in range(clients)]
    gate = asyncio.Semaphore(100)

    async def one(topic):
        async with gate:
            return await join(relay.port, token, topic)
    joined = await asyncio.gather(*(one(t) for t in topics))
    deadline = time.monotonic() + 60
    while metric(relay, "realtime_subscriptions") < clients:
        assert time.monotonic() < deadline, "subscriptions never bound"
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # every binding live in the decoder
    rss_joined = relay.rss_kb()
    for _, w, _ in joined:
        w.close()
    while metric(relay, "realtime_resume_parked") < clients:
        assert time.monotonic() < deadline + 60, "never parked"
        await asyncio.sleep(0.2)
    rss_parked = relay.rss_kb()
    db.execute(f"INSERT INTO public.{TABLE} (n, body) SELECT g, repeat('x', 100) FROM generate_series(0, %s) g",
               (missed - 1,))
    # Every change kept for every parked subscription (an overflow would make each client
    # that had one wait for changes it is told it missed: the run fails instead).
    deadline = time.monotonic() + 120
    while metric(relay, "realtime_resume_kept_changes") < clients * missed:
        assert metric(relay, "realtime_resume_overflows_total") == 0, "some parked subscriptions overflowed"
        assert time.monotonic() < deadline, "the changes were never all kept"
        await asyncio.sleep(0.1)
    rss_kept = relay.rss_kb()
    kept_bytes = metric(relay, "realtime_resume_kept_bytes")
    stamps = {"reply": [], "first": [], "last": []}
    C.log(f"{clients} parked, {missed} changes kept for each; rejoining")
    cpu0, own0, busy0 = C.proc_cpu_s(relay.pid), time.process_time(), C.machine_busy_s()
    t0 = time.monotonic()

    async def progress():
        while True:
            await asyncio.sleep(1)
            C.log(f"{time.monotonic() - t0:.1f}s replies {len(stamps['reply'])} changes {stamps.get('changes', 0)} "
                  f"done {len(stamps['last'])} relay cpu {C.proc_cpu_s(relay.pid) - cpu0:.2f}")
    prog = asyncio.ensure_future(progress())
    try:
        await asyncio.gather(*(asyncio.wait_for(rejoin_and_count(relay.port, token, t, sid, missed, t0, stamps), 120)
                               for t, (_, _, sid) in zip(topics, joined)))
    finally:
        prog.cancel()
    relay_cpu, client_cpu = C.proc_cpu_s(relay.pid) - cpu0, time.process_time() - own0
    machine_busy = C.machine_busy_s() - busy0
    return {
        "clients": clients, "missed_each": missed,
        "last_reply_s": max(stamps["reply"]), "median_reply_s": C.median(stamps["reply"]),
        "first_recovered_s": min(stamps["first"]), "median_first_recovered_s": C.median(stamps["first"]),
        "last_recovered_s": max(stamps["last"]), "median_recovered_s": C.median(stamps["last"]),
        "recovered_changes": metric(relay, "realtime_resume_recovered_changes_total"),
        "relay_cpu_s": relay_cpu, "client_cpu_s": client_cpu,
        "machine_busy_s": machine_busy,
        "rss_joined_kb": rss_joined, "rss_parked_kb": rss_parked, "rss_kept_kb": rss_kept,
        "kept_bytes": kept_bytes, "kept_bytes_per_parked": kept_bytes / clients,
        "rss_growth_per_parked_kept_bytes": (rss_kept - rss_parked) * 1024 / clients,
    }


def main():
    C.pin_self()  # the driver and its Postgres on the client CPU, the relay on the server's
    clients = int(os.environ.get("BENCH_RESUME_CLIENTS", C.by_size(50, 1000, 1000)))
    missed = C.by_size(20, 100, 100)
    db = BenchPostgres("bench_resume").start()
    try:
        db.execute(f"CREATE TABLE public.{TABLE} (id bigserial PRIMARY KEY, n int NOT NULL, body text);"
                   f"GRANT SELECT ON public.{TABLE} TO anon")
        with C.Relay(db=db.dsn, args=os.environ.get("BENCH_RESUME_RELAY_ARGS", "").split()) as relay:
            relay.wait_slot()
            result = asyncio.run(scenario(relay, db, clients, missed))
    finally:
        db.destroy()
    C.table(["clients", "missed each", "last reply s", "last recovered s", "kept B/parked", "RSS B/parked (kept)"],
            [[result["clients"], result["missed_each"], C.fmt(result["last_reply_s"]),
              C.fmt(result["last_recovered_s"]), C.fmt(result["kept_bytes_per_parked"]),
              C.fmt(result["rss_growth_per_parked_kept_bytes"])]])
    C.write_result("resume", {"results": result})


if __name__ == "__main__":
    main()
