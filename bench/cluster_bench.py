#!/usr/bin/python3
"""Cluster: cross-node broadcast latency and throughput with three relays, and slot
failover time.

Method. Three relays a, b, c in a full ZeroMQ mesh on loopback, all pinned to
BENCH_SERVER_CPU (the machine has two cores: the other one runs the load generator),
started fresh for every run.

- Cross-node latency: 1 000 subscribers in 100 channels, 64-byte Phoenix broadcasts
  from one WebSocket publisher at 10 000 deliveries/s (1 000 messages/s). Local: the
  publisher and every subscriber on node a. Cross-node: the publisher on a, the
  subscribers spread over b and c. The hop is cross-node minus local, at p50 and p99.
- Cross-node throughput: 10 000 subscribers spread over a, b and c, the publisher on a,
  as fast as 100 000 deliveries in flight allow (common.SATURATION_IN_FLIGHT); beside it the same with one relay (no
  mesh). Server CPU is the sum of the three relays.
- Failover: three relays with a database; a writer inserts a row every 10 ms and a
  client on each of the two relays that do not hold the slot receives them. The slot
  holder gets SIGKILL (a crash) or SIGSTOP (a stall, issue 14 fault 5: continued after
  6 s); failover time = first arrival, at either client, of a row committed after the
  signal (only the new holder can deliver it) - the signal. Repeated
  BENCH_FAILOVER_REPEATS times (5 at full size) each, with a fresh cluster and slot;
  median and max reported. Relays run with their default --heartbeat-ms (500) and
  --peer-down-ms (3000).

Usage: BENCH_SIZE=tiny|small|full /usr/bin/python3 bench/cluster_bench.py [--only latency|throughput|failover]
Writes bench/results/cluster.json and prints a table.
"""
import argparse
import asyncio
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

CHANNELS = 100
PAYLOAD = 64


def timing():
    d, w, dr = C.by_size((1.0, 1.0, 0.5), (4, 2, 1.5), (10, 3, 2))
    return ["--duration", d, "--warmup", w, "--drain", dr]


def fanout_on_cluster(label, nodes, sub_nodes, pub_node, clients, load, curve=False):
    """One fanout run on a fresh cluster of `nodes` relays (1: a lone relay): subscribers
    on sub_nodes (indexes), the publisher on pub_node; curve: the mesh with CURVE keys."""
    def once():
        keys = tempfile.mkdtemp(prefix="bench-mesh-keys-") if curve else None
        cluster = C.RelayCluster(nodes, keys_dir=keys) if nodes > 1 else None
        relays = cluster.relays if cluster else [C.Relay()]
        try:
            if cluster:
                cluster.start()
            else:
                relays[0].start()
            urls = ",".join(relays[i].ws_endpoint() for i in sub_nodes)
            return C.loadgen(["fanout", "--url", urls, "--pub-url", relays[pub_node].ws_endpoint(),
                              "--jwt-secret", C.JWT_SECRET, "--clients", clients, "--channels", CHANNELS,
                              "--payload-size", PAYLOAD, "--server-pid", ",".join(str(r.pid) for r in relays)]
                             + timing() + load)
        finally:
            for r in relays:
                r.stop()
            if keys:
                shutil.rmtree(keys, ignore_errors=True)
    return C.fanout_summary(C.quiet_run(label, once))


def bench_latency():
    clients = C.by_size(100, 1000, 1000)
    load = ["--deliveries-rate", C.by_size(1000, 10000, 10000)]
    local = fanout_on_cluster("latency, all on a", 3, [0], 0, clients, load)
    cross = fanout_on_cluster("latency, a -> b, c", 3, [1, 2], 0, clients, load)
    return {"clients": clients, "channels": CHANNELS, "deliveries_per_s_target": load[1],
            "local": local, "cross_node": cross,
            "hop_p50_ms": cross["p50_ms"] - local["p50_ms"], "hop_p99_ms": cross["p99_ms"] - local["p99_ms"]}


def bench_throughput():
    clients = C.by_size(300, 10000, 10000)
    load = ["--rate", 0, "--max-outstanding", C.SATURATION_IN_FLIGHT]
    one = fanout_on_cluster("throughput, one relay", 1, [0], 0, clients, load)
    three = fanout_on_cluster("throughput, a -> a, b, c", 3, [0, 1, 2], 0, clients, load)
    return {"clients": clients, "channels": CHANNELS, "in_flight": C.SATURATION_IN_FLIGHT,
            "one_node": one, "three_nodes": three}


# -- failover ----------------------------------------------------------------------------

class Writer(threading.Thread):
    """Inserts a row every period s, recording (id, monotonic time after the commit)."""

    def __init__(self, dsn, period=0.01):
        super().__init__(daemon=True)
        self.dsn, self.period = dsn, period
        self.committed = []
        self.errors = 0
        self.halt = threading.Event()

    def run(self):
        import psycopg2
        conn = psycopg2.connect(self.dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not self.halt.is_set():
                    try:
                        cur.execute("INSERT INTO bench_failover (note) VALUES ('x') RETURNING id")
                        self.committed.append((cur.fetchone()[0], time.monotonic()))
                    except psycopg2.Error:
                        self.errors += 1
                    self.halt.wait(self.period)
        finally:
            conn.close()


async def failover_once(pg, slot, n, how="sigkill"):
    from support.jwt import make_token
    from support.phoenix import PhoenixClient, join_config
    cluster = C.RelayCluster(3, db=pg.dsn, slot=slot)
    cluster.start()
    writer = None
    clients = []
    try:
        holder = cluster.holder()
        others = [r for r in cluster.relays if r is not holder]
        token = make_token(C.JWT_SECRET, role="anon")
        arrivals = []  # per client: [(id, monotonic)]
        for r in others:
            c = await PhoenixClient.connect(f"{r.ws_endpoint()}?apikey={token}&vsn=1.0.0")
            clients.append(c)
            topic = f"realtime:failover-{n}-{r.node_id}"
            reply = await c.join(topic, join_config(changes=[{"event": "INSERT", "schema": "public",
                                                              "table": "bench_failover"}]), timeout=30)
            assert reply["status"] == "ok", reply
            await c.expect_event(topic, "system", timeout=30,
                                 where=lambda p: p.get("message") == "Subscribed to PostgreSQL")
            arrivals.append([])

        async def collect(c, out):
            while True:
                try:
                    m = await c.recv(timeout=1)
                except asyncio.TimeoutError:
                    continue
                except Exception:
                    return
                if m["event"] == "postgres_changes":
                    out.append((int(m["payload"]["data"]["record"]["id"]), time.monotonic()))
        tasks = [asyncio.ensure_future(collect(c, a)) for c, a in zip(clients, arrivals)]
        writer = Writer(pg.dsn)
        writer.start()
        await asyncio.sleep(1.0)
        flowing = len(arrivals[0])
        t_kill = time.monotonic()
        if how == "sigkill":
            holder.kill()
        else:
            os.kill(holder.pid, signal.SIGSTOP)
        new = await asyncio.to_thread(C.mesh.wait_holder, others, 30)
        t_holder = time.monotonic()
        # until a row committed after the kill arrived at every client, then one more second
        deadline = time.monotonic() + 30

        def after(a):
            return [t for i, t in a if any(i == j for j, tc in writer.committed if tc > t_kill)]
        while time.monotonic() < deadline:
            after_ids = {i for i, tc in writer.committed if tc > t_kill}
            if all(any(i in after_ids for i, _ in a) for a in arrivals):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        if how == "sigstop":
            await asyncio.sleep(max(0.0, 6.0 - (time.monotonic() - t_kill)))
            os.kill(holder.pid, signal.SIGCONT)
            await asyncio.sleep(2.0)  # its clients' rows come from the new holder's backlog
        writer.halt.set()
        await asyncio.to_thread(writer.join, 10)
        await asyncio.sleep(1.0)
        for t in tasks:
            t.cancel()
        after_ids = {i for i, tc in writer.committed if tc > t_kill}
        firsts = [min((t for i, t in a if i in after_ids), default=None) for a in arrivals]
        committed = {i for i, _ in writer.committed}
        missing = [len(committed - {i for i, _ in a}) for a in arrivals]
        got = [x for x in firsts if x is not None]
        return {"old_holder": holder.node_id, "new_holder": new.node_id,
                "rows_before_kill_received": flowing,
                "new_holder_in_health_s": round(t_holder - t_kill, 3),
                "failover_s": round(min(got) - t_kill, 3) if got else None,
                "per_client_s": [round(x - t_kill, 3) if x else None for x in firsts],
                "rows_committed": len(committed), "rows_missing_per_client": missing,
                "writer_errors": writer.errors}
    finally:
        if how == "sigstop" and holder.alive():
            os.kill(holder.pid, signal.SIGCONT)
        if writer and writer.is_alive():
            writer.halt.set()
            writer.join(10)
        for c in clients:
            try:
                await asyncio.wait_for(c.close(), 3)
            except Exception:
                pass
        cluster.stop()
        pg.drop_slot(slot)


def bench_failover():
    from changes_bench import BenchPostgres
    repeats = int(os.environ.get("BENCH_FAILOVER_REPEATS", C.by_size(1, 3, 5)))
    pg = BenchPostgres(f"rt_bench_failover_{os.getpid()}")
    out = {}
    try:
        pg.start()
        pg.execute("CREATE TABLE public.bench_failover (id bigserial PRIMARY KEY, note text);"
                   "GRANT SELECT ON public.bench_failover TO anon, authenticated")
        for how in ("sigkill", "sigstop"):
            runs = []
            for i in range(repeats):
                slot = f"rt_bench_failover_{os.getpid()}_{how}_{i}"
                r = asyncio.run(asyncio.wait_for(failover_once(pg, slot, i, how), 180))
                C.log(f"  {how} #{i + 1}: {r['failover_s']} s (holder {r['old_holder']} -> {r['new_holder']}, "
                      f"in health after {r['new_holder_in_health_s']} s, missing {r['rows_missing_per_client']})")
                runs.append(r)
            times = [r["failover_s"] for r in runs if r["failover_s"] is not None]
            out[how] = {"repeats": repeats, "runs": runs, "median_s": statistics.median(times) if times else None,
                        "max_s": max(times) if times else None, "min_s": min(times) if times else None,
                        "all_delivered": all(not any(r["rows_missing_per_client"]) for r in runs)}
    finally:
        C.stop_all()
        pg.destroy()
    out["relay_flags"] = "defaults: --heartbeat-ms 500 --peer-down-ms 3000"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("latency", "throughput", "failover"))
    opts = ap.parse_args()
    C.pin_self()
    out = {}
    try:
        if opts.only in (None, "latency"):
            out["latency"] = bench_latency()
        if opts.only in (None, "throughput"):
            out["throughput"] = bench_throughput()
        if opts.only in (None, "failover"):
            out["failover"] = bench_failover()
    finally:
        C.stop_all()
    targets = {}
    if "latency" in out:
        targets["cross_node_hop_under_1ms_at_p50"] = {"hop_p50_ms": out["latency"]["hop_p50_ms"],
                                                      "pass": out["latency"]["hop_p50_ms"] < 1}
    if "failover" in out:
        f = out["failover"]["sigkill"]
        targets["failover_under_3s"] = {"median_s": f["median_s"], "max_s": f["max_s"],
                                        "pass": f["median_s"] is not None and f["max_s"] < 3}
        s = out["failover"]["sigstop"]
        targets["stalled_holder_takeover_under_2s"] = {"median_s": s["median_s"], "max_s": s["max_s"],
                                                       "pass": s["median_s"] is not None and s["max_s"] < 2}
    C.write_result("cluster", dict(out, targets=targets))
    if "latency" in out:
        lat = out["latency"]
        print(f"\nCross-node broadcast latency, {lat['clients']} subscribers, {lat['deliveries_per_s_target']} deliveries/s")
        C.table(["where", "deliv/s", "p50 ms", "p90 ms", "p99 ms", "p999 ms", "loss", "disturbed"],
                [[k, lat[k]["deliveries_per_s"], lat[k]["p50_ms"], lat[k]["p90_ms"], lat[k]["p99_ms"],
                  lat[k]["p999_ms"], lat[k]["loss_ratio"], lat[k]["disturbed"]] for k in ("local", "cross_node")])
        print(f"hop: p50 {lat['hop_p50_ms']:+.3f} ms, p99 {lat['hop_p99_ms']:+.3f} ms")
    if "throughput" in out:
        t = out["throughput"]
        print(f"\nThroughput, {t['clients']} subscribers, publisher on a")
        C.table(["nodes", "deliv/s", "relays cpu", "us/deliv", "p50 ms", "p99 ms", "loss", "disturbed"],
                [[k, t[k]["deliveries_per_s"], t[k]["server_cpu_util"], t[k]["cpu_us_per_delivery"],
                  t[k]["p50_ms"], t[k]["p99_ms"], t[k]["loss_ratio"], t[k]["disturbed"]]
                 for k in ("one_node", "three_nodes")])
    for how in ("sigkill", "sigstop") if "failover" in out else ():
        f = out["failover"][how]
        print(f"\nFailover ({how.upper()} of the slot holder -> first change from the new holder), {f['repeats']} runs")
        C.table(["run", "old", "new", "health s", "failover s", "missing"],
                [[i + 1, r["old_holder"], r["new_holder"], r["new_holder_in_health_s"], r["failover_s"],
                  r["rows_missing_per_client"]] for i, r in enumerate(f["runs"])])
        print(f"median {f['median_s']} s, max {f['max_s']} s")


if __name__ == "__main__":
    main()
