#!/usr/bin/python3
"""The mesh's costs (issue 14): the cross-node hop with CURVE on vs off, and the cost of
the acknowledged hand-over of changes on a three-node cluster.

Method.
- CURVE hop: cluster_bench's latency runs (three relays a, b, c on loopback, all pinned
  to BENCH_SERVER_CPU, the load generator on BENCH_CLIENT_CPU; subscribers in 100
  channels, 64-byte broadcasts from one WebSocket publisher at 10 000 deliveries/s at
  small and full size). Local: the publisher and the subscribers on a; cross-node: the
  publisher on a, the subscribers on b and c; hop = cross-node - local at p50 and p99.
  Done twice, on a plain mesh and on a mesh with a CURVE key pair per node
  (realtime-relay keygen, --cluster-key, peers as endpoint@key): every mesh message is
  then encrypted by the sender's and decrypted by the receiver's libzmq I/O thread.
- Hand-over: changes_bench's throughput run (1 000 subscribers of 100 filter values
  spread over the nodes, 100 rows per transaction as fast as Postgres takes them) with
  three relays, one holding the slot and handing each change over to the node of its
  subscribers, which confirms it (realtime_handover_acks_total, per second over the whole
  run: connecting, writing, draining) while the holder keeps
  it until then (realtime_handover_backlog_bytes, sampled every 100 ms). There is no
  switch that hands over without keeping a backlog, so the cost is measured as: the
  holder's CPU per change (its process alone), the same with one relay (no hand-over,
  no mesh: the difference is what forwarding through the mesh costs, the backlog and
  its confirmations included), the confirmations per second and per change, and the
  backlog's peak. In three nodes the holder delivers to its own third of the
  subscribers and hands the rest over, so its CPU per change is the hand-over's cost net
  of the fan-out it no longer does; the sum over the three relays against the lone
  relay (the same 1 000 subscribers, the same rows) is the whole mesh's cost (hand-over,
  backlog, confirmations, and each node's own decoding of the documents it receives).

Usage: BENCH_SIZE=tiny|small|full /usr/bin/python3 bench/mesh_bench.py [--only curve|handover]
Writes bench/results/mesh.json (with --only, the other part's results stay) and prints a table.
"""
import argparse
import json
import os
import sys
import time
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import changes_bench as CB  # noqa: E402
import cluster_bench as CL  # noqa: E402


def hop(curve):
    clients = C.by_size(100, 1000, 1000)
    load = ["--deliveries-rate", C.by_size(1000, 10000, 10000)]
    tag = "curve" if curve else "plain"
    local = CL.fanout_on_cluster(f"{tag}: latency, all on a", 3, [0], 0, clients, load, curve=curve)
    cross = CL.fanout_on_cluster(f"{tag}: latency, a -> b, c", 3, [1, 2], 0, clients, load, curve=curve)
    return {"local": local, "cross_node": cross,
            "hop_p50_ms": round(cross["p50_ms"] - local["p50_ms"], 3),
            "hop_p99_ms": round(cross["p99_ms"] - local["p99_ms"], 3),
            "relay_cpu_us_per_delivery_cross": cross.get("cpu_us_per_delivery")}


def bench_curve():
    out = {"clients": C.by_size(100, 1000, 1000), "deliveries_per_s_target": C.by_size(1000, 10000, 10000),
           "plain": hop(False), "curve": hop(True)}
    out["curve_extra_hop_p50_ms"] = round(out["curve"]["hop_p50_ms"] - out["plain"]["hop_p50_ms"], 3)
    out["curve_extra_hop_p99_ms"] = round(out["curve"]["hop_p99_ms"] - out["plain"]["hop_p99_ms"], 3)
    return out


class Sampler(threading.Thread):
    """The holder's /metrics every 100 ms: the backlog's peak."""

    def __init__(self, relay):
        super().__init__(daemon=True)
        self.relay, self.halt = relay, threading.Event()
        self.peak_bytes = self.peak_changes = 0

    def run(self):
        while not self.halt.wait(0.1):
            try:
                m = self.relay.metrics()
            except Exception:  # busy: the next sample
                continue
            self.peak_bytes = max(self.peak_bytes, m.get("realtime_handover_backlog_bytes", 0))
            self.peak_changes = max(self.peak_changes, m.get("realtime_handover_backlog_changes", 0))


def throughput(pg, nodes, slot):
    rows = C.by_size(2000, 50000, 200000)
    servers = C.RelayCluster(nodes, db=pg.dsn, slot=slot) if nodes > 1 else C.Relay(db=pg.dsn, slot=slot)
    relays = servers.relays if nodes > 1 else [servers]
    servers.start()
    try:
        holder = servers.holder() if nodes > 1 else servers.wait_slot()
        others = [r.pid for r in relays if r is not holder]
        sampler = Sampler(holder)
        sampler.start()

        def once():
            before, t0 = holder.metrics(), time.monotonic()
            r = CB.watch(pg, [r.ws_endpoint() for r in relays], others, rows, 0, 100, 600,
                         groups={"holder": lambda: [holder.pid]})
            after = holder.metrics()
            r["counted"] = {k: int(after.get(k, 0) - before.get(k, 0))
                            for k in ("realtime_handover_acks_total", "realtime_handover_resent_total")}
            r["counted_s"] = time.monotonic() - t0  # the whole run: connecting, writing, draining
            return r
        r = C.quiet_run(f"{nodes} node(s): changes throughput", once, foreign=lambda r: r["cpu"].get("foreign_util", 0))
        sampler.halt.set()
        sampler.join()
        s = CB.summarize(r, rows)
        cpu = r["cpu"]
        span = s.get("delivery_seconds") or 0
        acks = r["counted"]["realtime_handover_acks_total"]
        out = {"nodes": nodes, "rows": rows, "delivered_changes_per_s": s.get("delivered_changes_per_s"),
               "expect_met": s["expect_met"], "delivery_seconds": span,
               "holder_cpu_s": cpu.get("holder_cpu_s"), "other_relays_cpu_s": cpu.get("relays_cpu_s"),
               "holder_cpu_us_per_change": round(cpu.get("holder_cpu_s", 0) * 1e6 / rows, 2),
               "relays_cpu_us_per_change": round((cpu.get("holder_cpu_s", 0) + cpu.get("relays_cpu_s", 0)) * 1e6
                                                 / rows, 2),
               "client_core_util": s.get("client_core_util"),
               "holder_util": cpu.get("holder_util"), "foreign_util": cpu.get("foreign_util"),
               "disturbed": r.get("disturbed"), "tries": r.get("tries")}
        if nodes > 1:
            out.update({"acks": acks, "acks_per_s": round(acks / r["counted_s"], 1),
                        "acks_per_change": round(acks / rows, 4),
                        "resent": r["counted"]["realtime_handover_resent_total"],
                        "backlog_peak_bytes": int(sampler.peak_bytes), "backlog_peak_changes": int(sampler.peak_changes)})
        return out
    finally:
        servers.stop()
        pg.drop_slot(slot)


def bench_handover():
    pg = CB.BenchPostgres(f"rt_bench_mesh_{os.getpid()}")
    try:
        pg.start()
        pg.execute(CB.SETUP)
        one = throughput(pg, 1, f"rt_bench_mesh_{os.getpid()}_1")
        three = throughput(pg, 3, f"rt_bench_mesh_{os.getpid()}_3")
    finally:
        pg.destroy()
    return {"one_node": one, "three_nodes": three,
            "holder_extra_cpu_us_per_change": round(three["holder_cpu_us_per_change"]
                                                    - one["holder_cpu_us_per_change"], 2),
            "relays_extra_cpu_us_per_change": round(three["relays_cpu_us_per_change"]
                                                    - one["relays_cpu_us_per_change"], 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("curve", "handover"))
    opts = ap.parse_args()
    C.pin_self()
    out = {}
    try:
        if opts.only in (None, "curve"):
            out["curve"] = bench_curve()
        if opts.only in (None, "handover"):
            out["handover"] = bench_handover()
    finally:
        C.stop_all()
    previous = os.path.join(C.RESULTS_DIR, "mesh.json")
    if opts.only and os.path.exists(previous):  # one part run again: the other one stays
        with open(previous) as f:
            kept = json.load(f)
        out = dict({k: kept[k] for k in ("curve", "handover") if k in kept}, **out)
    C.write_result("mesh", out)
    if "curve" in out:
        c = out["curve"]
        print(f"\nCross-node hop, {c['clients']} subscribers, {c['deliveries_per_s_target']} deliveries/s")
        C.table(["mesh", "local p50", "cross p50", "hop p50 ms", "local p99", "cross p99", "hop p99 ms"],
                [[k, c[k]["local"]["p50_ms"], c[k]["cross_node"]["p50_ms"], c[k]["hop_p50_ms"],
                  c[k]["local"]["p99_ms"], c[k]["cross_node"]["p99_ms"], c[k]["hop_p99_ms"]]
                 for k in ("plain", "curve")])
    if "handover" in out:
        h = out["handover"]
        print("\nChanges through the acknowledged hand-over (throughput run)")
        C.table(["nodes", "changes/s", "holder us/change", "relays us/change", "acks/s", "acks/change",
                 "backlog peak B"],
                [[h[k]["nodes"], h[k]["delivered_changes_per_s"], h[k]["holder_cpu_us_per_change"],
                  h[k]["relays_cpu_us_per_change"],
                  h[k].get("acks_per_s"), h[k].get("acks_per_change"), h[k].get("backlog_peak_bytes")]
                 for k in ("one_node", "three_nodes")])


if __name__ == "__main__":
    main()
