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

Usage: BENCH_SIZE=tiny|small|full /usr/bin/python3 bench/resume_bench.py
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
    """Server frames (unmasked text) off a stream, as JSON."""

    def __init__(self, reader):
        self.reader, self.buf = reader, b""

    async def next(self):
        while True:
            if len(self.buf) >= 10 or (len(self.buf) >= 2 and self.buf[1] & 0x7F < 126):
                n, off = self.buf[1] & 0x7F, 2
                if n == 126:
                    n, off = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127:
                    n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
                if len(self.buf) >= off + n:
                    opcode = self.buf[0] & 0x0F
                    body, self.buf = self.buf[off:off + n], self.buf[off + n:]
                    if opcode == 8:
                        raise ConnectionError(f"closed by the relay: {body[:2].hex()} {body[2:].decode(errors='replace')}")
                    if opcode != 1:
                        continue  # ping, pong
                    return json.loads(body)
            chunk = await self.reader.read(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk


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
        m = await asyncio.wait_for(r.next(), 120)
        if m["event"] == "phx_reply":
            assert m["payload"]["response"]["postgres_changes"][0]["id"] == sid, "not adopted"
            stamps["reply"].append(time.monotonic() - t0)
        elif m["event"] == "postgres_changes":
            assert m["payload"].get("recovered") is True, m
            got.append(m["payload"]["data"]["record"]["n"])
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
    received = metric(relay, "realtime_changes_received_total")
    db.execute(f"INSERT INTO public.{TABLE} (n, body) SELECT g, repeat('x', 100) FROM generate_series(0, %s) g",
               (missed - 1,))
    while metric(relay, "realtime_changes_received_total") < received + missed:
        await asyncio.sleep(0.1)
    rss_kept = relay.rss_kb()
    kept_bytes = metric(relay, "realtime_resume_kept_bytes")
    stamps = {"reply": [], "last": []}
    C.log(f"{clients} parked, {missed} changes kept for each; rejoining")
    cpu0, own0 = C.proc_cpu_s(relay.pid), time.process_time()
    t0 = time.monotonic()
    await asyncio.gather(*(rejoin_and_count(relay.port, token, t, sid, missed, t0, stamps)
                           for t, (_, _, sid) in zip(topics, joined)))
    relay_cpu, client_cpu = C.proc_cpu_s(relay.pid) - cpu0, time.process_time() - own0
    return {
        "clients": clients, "missed_each": missed,
        "last_reply_s": max(stamps["reply"]), "median_reply_s": C.median(stamps["reply"]),
        "last_recovered_s": max(stamps["last"]), "median_recovered_s": C.median(stamps["last"]),
        "recovered_changes": metric(relay, "realtime_resume_recovered_changes_total"),
        "relay_cpu_s": relay_cpu, "client_cpu_s": client_cpu,
        "rss_joined_kb": rss_joined, "rss_parked_kb": rss_parked, "rss_kept_kb": rss_kept,
        "kept_bytes": kept_bytes, "kept_bytes_per_parked": kept_bytes / clients,
        "rss_growth_per_parked_kept_bytes": (rss_kept - rss_parked) * 1024 / clients,
    }


def main():
    clients = int(os.environ.get("BENCH_RESUME_CLIENTS", C.by_size(50, 1000, 1000)))
    missed = C.by_size(20, 100, 100)
    db = BenchPostgres("bench_resume").start()
    try:
        db.execute(f"CREATE TABLE public.{TABLE} (id bigserial PRIMARY KEY, n int NOT NULL, body text);"
                   f"GRANT SELECT ON public.{TABLE} TO anon")
        with C.Relay(db=db.dsn) as relay:
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
