#!/usr/bin/python3
"""Writes docs/benchmarks.md and its plots from the JSON results under bench/results/.

Reads fanout.json, idle.json, storm.json, decode.json, rls_check.json, private.json, changes.json, cluster.json
and mesh.json
(whichever exist) from BENCH_RESULTS_DIR, draws PNG plots with matplotlib (Agg) into
BENCH_DOCS_DIR/img/ and writes BENCH_DOCS_DIR/benchmarks.md (default: docs/). The
hand-written profile findings in bench/profiles.md are included as they are.

Usage: /usr/bin/python3 bench/report.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

DOCS_DIR = os.environ.get("BENCH_DOCS_DIR", os.path.join(C.ROOT, "docs"))
IMG_DIR = os.path.join(DOCS_DIR, "img")
PROFILES = os.path.join(C.HERE, "profiles.md")
COLORS = {"relay": "#2f6db5", "nchan": "#d9822b"}


def load(name):
    path = os.path.join(C.RESULTS_DIR, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def n(v, digits=None):
    """A figure for a table."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if digits is not None:
        return f"{v:,.{digits}f}"
    if isinstance(v, int) or (isinstance(v, float) and abs(v) >= 1000):
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ms(v):
    return "-" if v is None else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def verdict(ok):
    return "**pass**" if ok else "**FAIL**"


def md_table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def pct(f):
    return f"{f:.0%}" if f is not None else "-"


# -- plots -------------------------------------------------------------------------------

def plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    return pyplot


def save(fig, name):
    os.makedirs(IMG_DIR, exist_ok=True)
    path = os.path.join(IMG_DIR, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt().close(fig)
    return f"img/{name}"


def fixed_label(p):
    f = p["fraction_of_nchan_saturation"]
    k = p["deliveries_per_s_target"] / 1000
    return f"{f:.0%}\n{k:g}k/s" if f is not None else f"{k:g}k/s"


def plot_fanout(fan):
    pyplot = plt()
    sizes = list(fan["sizes"])
    images = {}
    # CPU per delivery at the fixed loads
    fig, axes = pyplot.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False)
    for ax, key in zip(axes[0], sizes):
        pts = fan["sizes"][key]["fixed"]
        xs = range(len(pts))
        for i, srv in enumerate(("nchan", "relay")):
            ys = [p[srv]["cpu_us_per_delivery"] or 0 if srv in p else 0 for p in pts]
            ax.bar([x + (i - 0.5) * 0.38 for x in xs], ys, 0.38, label=srv, color=COLORS[srv])
        ax.set_xticks(list(xs))
        ax.set_xticklabels([fixed_label(p) for p in pts], fontsize=8)
        ax.set_title(f"{int(key):,} subscribers")
        ax.set_ylabel("server CPU µs per delivery")
        ax.legend(fontsize=8)
    images["cpu"] = save(fig, "bench_fanout_cpu.png")

    # latency percentiles at the fixed loads
    fig, axes = pyplot.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False)
    for ax, key in zip(axes[0], sizes):
        pts = [p for p in fan["sizes"][key]["fixed"]]
        xs = list(range(len(pts)))
        for srv in ("nchan", "relay"):
            for q, style in (("p50_ms", ":"), ("p99_ms", "-"), ("p999_ms", "--")):
                ys = [p[srv][q] if srv in p else None for p in pts]
                ax.plot(xs, ys, style, marker="o", color=COLORS[srv], label=f"{srv} {q[:-3]}")
        ax.set_yscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels([fixed_label(p) for p in pts], fontsize=8)
        ax.set_ylabel("publish → receive, ms")
        ax.set_title(f"{int(key):,} subscribers")
        ax.legend(fontsize=7, ncol=2)
    images["latency"] = save(fig, "bench_fanout_latency.png")

    # saturation
    fig, ax = pyplot.subplots(figsize=(6.5, 3.6))
    xs = range(len(sizes))
    for i, srv in enumerate(("nchan", "relay")):
        sat = [fan["sizes"][k]["saturation"].get(srv) for k in sizes]
        meas = [s["deliveries_per_s"] if s else 0 for s in sat]
        fig_ = [s["saturation_deliveries_per_s"] if s else 0 for s in sat]
        pos = [x + (i - 0.5) * 0.38 for x in xs]
        ax.bar(pos, meas, 0.38, color=COLORS[srv], label=f"{srv} measured")
        extra = [max(0, f - m) for f, m in zip(fig_, meas)]
        if any(extra):
            ax.bar(pos, extra, 0.38, bottom=meas, color="white", edgecolor=COLORS[srv], hatch="//",
                   label=f"{srv} projected from CPU/delivery")
    ax.set_xticks(list(xs))
    ax.set_xlim(-0.9, len(sizes) - 0.1)
    ax.set_xticklabels([f"{int(k):,} subs" for k in sizes])
    ax.set_ylabel("deliveries/s at saturation")
    ax.legend(fontsize=8)
    images["saturation"] = save(fig, "bench_fanout_saturation.png")
    return images


def plot_idle(idle, storm):
    pyplot = plt()
    fig, axes = pyplot.subplots(1, 2 if storm else 1, figsize=(9 if storm else 5, 3.4), squeeze=False)
    ax = axes[0][0]
    sizes = list(idle["sizes"])
    for i, srv in enumerate(("nchan", "relay")):
        ys = [(idle["sizes"][k][srv]["bytes_per_connection"] or 0) / 1024 for k in sizes]
        ax.bar([x + (i - 0.5) * 0.38 for x in range(len(sizes))], ys, 0.38, color=COLORS[srv], label=srv)
    ax.set_xticks(range(len(sizes)))
    ax.set_xticklabels([f"{int(k):,} idle" for k in sizes])
    ax.set_ylabel("KiB resident per connection")
    ax.legend(fontsize=8)
    if storm:
        ax = axes[0][1]
        srvs = [s for s in ("nchan", "relay") if s in storm["servers"]]
        ax.bar(srvs, [storm["servers"][s]["joins_per_second"] for s in srvs], color=[COLORS[s] for s in srvs])
        ax.set_ylabel(f"joins/s, storm of {storm['clients']:,}")
    return save(fig, "bench_connections.png")


def plot_decode(dec):
    pyplot = plt()
    res = dec["results"]
    names = list(res)
    key = dec["targets"]["measured_on"]
    fig, ax = pyplot.subplots(figsize=(7, 3.2))
    ys = [res[v][key] / 1e6 for v in names]
    ax.barh(names, ys, color=["#2f6db5" if v.startswith("pg_realtime") else "#888888" for v in names])
    ax.invert_yaxis()
    ax.set_xlabel("million rows/s decoded" + (" per CPU second" if "cpu" in key else ""))
    return save(fig, "bench_decode.png")


def plot_latency_pair(groups, title, name):
    """groups: {label: {p50_ms, p99_ms, p999_ms}}"""
    pyplot = plt()
    fig, ax = pyplot.subplots(figsize=(6, 3.2))
    labels = list(groups)
    qs = [q for q in ("p50_ms", "p90_ms", "p99_ms", "p999_ms") if all(q in g for g in groups.values())]
    for i, lab in enumerate(labels):
        w = 0.8 / len(labels)
        ax.bar([x + (i - (len(labels) - 1) / 2) * w for x in range(len(qs))], [groups[lab][q] for q in qs], w,
               label=lab)
    ax.set_xticks(range(len(qs)))
    ax.set_xticklabels([q[:-3] for q in qs])
    ax.set_ylabel("ms")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return save(fig, name)


# -- sections ----------------------------------------------------------------------------

def targets_section(fan, idle, dec, chg, clu):
    rows = []

    def add(what, measured, ok):
        rows.append([what, measured, verdict(ok) if ok is not None else "not run"])
    t = (fan or {}).get("targets") or {}
    if t:
        c = t["cpu_per_delivery_at_most_half_of_nchan"]
        add(f"fan-out {t['clients']:,} subs: relay CPU/delivery ≤ ½ nchan's at the same load",
            ", ".join(f"{pct(p['fraction'])}: {n(p['relay_us'])} vs {n(p['nchan_us'])} µs (×{p['ratio']:.2f})"
                      for p in c["points"]), c["pass"])
        s = t["saturation_at_least_1_5x_nchan"]
        add(f"fan-out {t['clients']:,} subs: saturation ≥ 1.5× nchan's",
            f"{n(s['relay'])} ({s['relay_basis']}) vs {n(s['nchan'])} ({s['nchan_basis']}): ×{s['ratio']:.2f}",
            s["pass"])
        p = t["p99_no_worse_at_every_fixed_load"]
        add(f"fan-out {t['clients']:,} subs: p99 no worse than nchan's at every fixed load",
            ", ".join(f"{pct(x['fraction'])}: {ms(x['relay_ms'])} vs {ms(x['nchan_ms'])} ms" for x in p["points"]),
            p["pass"])
    ti = (idle or {}).get("targets") or {}
    if ti:
        m = ti["memory_per_idle_connection_at_most_nchan"]
        add("memory per idle connection ≤ nchan's",
            ", ".join(f"{int(k):,}: {n(v['relay'])} vs {n(v['nchan'])} B" for k, v in m["sizes"].items()), m["pass"])
    if dec:
        td = dec["targets"]
        add("decoding with 10 000 subscriptions ≥ wal2json with none",
            f"×{td['pg_realtime_10k_vs_wal2json']} (rows per {'CPU ' if 'cpu' in td['measured_on'] else ''}second)",
            td["pg_realtime_10k_at_least_wal2json"])
        add("10 000 subscriptions cost ≤ 10 % over 0 in decoding",
            f"{td['cost_of_10k_subscriptions_over_0']:+.1%} per session"
            + (f", {td['steady_cost_of_10k_subscriptions_over_0']:+.1%} steady"
               if td.get("steady_cost_of_10k_subscriptions_over_0") is not None else ""),
            td["cost_of_10k_subscriptions_at_most_10_percent"])
        if td.get("rls_10k_users_vs_filters") is not None:
            add("compiled RLS (auth.uid() = user_id, 10 000 users) within 15 % of the same as filters",
                f"×{td['rls_10k_users_vs_filters']}", td["rls_10k_users_within_15_percent_of_filters"])
    tc = (chg or {}).get("targets") or {}
    if tc.get("commit_to_client_p99_under_10ms_at_1000_per_s"):
        x = tc["commit_to_client_p99_under_10ms_at_1000_per_s"]
        add("commit-to-client p99 < 10 ms at 1 000 changes/s (one node)", f"{ms(x['p99_ms'])} ms", x["pass"])
    if tc.get("three_nodes_p99_under_10ms_at_1000_per_s"):
        x = tc["three_nodes_p99_under_10ms_at_1000_per_s"]
        add("… with three nodes", f"{ms(x['p99_ms'])} ms", x["pass"])
    tk = (clu or {}).get("targets") or {}
    if tk.get("cross_node_hop_under_1ms_at_p50"):
        x = tk["cross_node_hop_under_1ms_at_p50"]
        add("cross-node hop < 1 ms at p50", f"{x['hop_p50_ms']:+.3f} ms", x["pass"])
    if tk.get("failover_under_3s"):
        x = tk["failover_under_3s"]
        add("failover < 3 s (SIGKILL of the slot holder → first change from the new holder)",
            f"median {x['median_s']} s, max {x['max_s']} s", x["pass"])
    # the relay's own targets (issue 3), for reference
    extra = []
    if t.get("issue3_relay_at_50k"):
        x = t["issue3_relay_at_50k"]
        extra.append(["relay at 50 000 deliveries/s, 10 000 subs: ≤ 5 µs/delivery and p99 < 5 ms",
                      f"{n(x['cpu_us_per_delivery'])} µs, p99 {ms(x['p99_ms'])} ms", verdict(x["pass"])])
    if t.get("issue3_saturation_above_200k"):
        x = t["issue3_saturation_above_200k"]
        extra.append(["relay saturation > 200 000 deliveries/s on one core", n(x["relay"]), verdict(x["pass"])])
    if ti.get("issue3_at_most_8kb_at_10k"):
        x = ti["issue3_at_most_8kb_at_10k"]
        extra.append(["relay ≤ 8 KB per idle connection at 10 000", f"{n(x['relay'])} B", verdict(x["pass"])])
    if tc.get("issue3_commit_to_client_p50_under_2ms"):
        x = tc["issue3_commit_to_client_p50_under_2ms"]
        extra.append(["commit-to-client p50 < 2 ms at 1 000 changes/s", f"{ms(x['p50_ms'])} ms", verdict(x["pass"])])
    out = "## Targets\n\nEvery ratio below compares figures measured in the same run.\n\n"
    out += md_table(["target (issue 5)", "measured", ""], rows)
    if extra:
        out += "\nThe relay's own targets (issues 2-4), from the same runs:\n\n"
        out += md_table(["target", "measured", ""], extra)
    return out


def method_section(any_result, fan):
    m = any_result["machine"]
    v = any_result["versions"]
    git = v.get("relay_git") or {}
    commit = (git.get("commit") or "unknown")[:12] + (" (with uncommitted changes in "
                                                      + ", ".join(git.get("dirty_paths", [])) + ")"
                                                      if git.get("dirty") else "")
    mem = (m.get("memory_bytes") or 0) / 2 ** 30
    lim = (fan or {}).get("limits") or {}
    out = f"""## Method

**Machine.** {m['cores']} cores ({m['cpu_model']}{', ' + m['hypervisor_vendor'] + ' VM' if m.get('hypervisor_vendor') else ''}),
{mem:.1f} GiB memory, Linux {m['kernel']}; open-file limit {m['nofile']['hard']:,} per process
(`ulimit -Hn`). Generated {any_result['generated_at']} at size `{any_result['size']}`.

**Versions.** relay git {commit}; {v.get('postgres')}; {v.get('nginx', '').replace('nginx version: ', '')}
with libnginx-mod-nchan {v.get('libnginx-mod-nchan')}; libwebsockets {v.get('libwebsockets')};
libzmq {v.get('libzmq')}; libev {v.get('libev')}; wal2json {v.get('wal2json')}; g++ {v.get('gcc')};
Python {v.get('python')}.

**Reproduce.** `make bench` (installs the Debian packages, builds, installs the
extension, then runs `bench/run_all.py`), or after a build `/usr/bin/python3 bench/run_all.py`.
Every figure on this page comes from the JSON in `bench/results/`, and this page from
`bench/report.py`. `BENCH_SIZE=tiny` runs everything at a tiny size in about a minute
(what `tests/bench/test_bench_smoke.py` does); each benchmark also runs alone, e.g.
`BENCH_SIZE=small /usr/bin/python3 bench/fanout_bench.py --sizes 10000`.

**Pinning.** The machine has two cores. The server under test (the relay, or nginx
with one worker process and `master_process off`) is pinned to core {m.get('server_cpu', 0)}; the load
generator `build/rt-loadgen` to core {m.get('client_cpu', 1)}. Postgres (for the changes benchmarks)
and the Python drivers share core {m.get('client_cpu', 1)} with the load generator; the three relays of
the cluster benchmarks share core {m.get('server_cpu', 0)}.

**Load generator.** `build/rt-loadgen` (C++, epoll, its own RFC 6455 client; see
`bench/loadgen/README.md`) drives both servers with the same workload: N subscribers
spread over 100 channels, 64-byte messages carrying their send time
(CLOCK_MONOTONIC), publish-to-receive latency measured per delivery into a log-bucket
histogram. nchan's publishers POST each message to `/pub/<channel>` over keep-alive
HTTP (pipelined); the relay's publisher sends Phoenix `broadcast` pushes over one
WebSocket, as realtime-js does. Server CPU is utime+stime of the server process over
the measurement window (/proc), divided by the deliveries received in it. The load
generator costs about 7 µs per read itself (mostly the kernel's receive path), so with one
message per read it tops out around 140 000-150 000 deliveries/s on its core (more when
a server batches several messages into one segment): a saturation run where the
server did not use at least {int((fan or {}).get('saturation_server_bound_util', 0.85) * 100)} % of its core was limited by the
generator, so its saturation is **projected** from its CPU per delivery
(1e6 / µs per delivery) and marked so; measured figures are given beside it.

**Fixed loads** are 25 %, 50 % and 75 % of nchan's measured saturation at the same
size, in the same run. Every run starts a fresh server (a long-lived nchan drifts).
Points are repeated {(fan or {}).get('repeats', 1)} times in alternation (nchan, relay) and the median is reported.

**Noise.** Other engineers run tests on this machine. Every run records the CPU used
by other processes during its window (`machine.foreign_util`); a run above 5 % of a
core is repeated (up to 4 tries) and the least disturbed kept; figures still above
that are marked *disturbed* (†) in the tables.

**Connection limit.** The hard open-file limit is {lim.get('nofile_hard', m['nofile']['hard']):,} per process. The relay
says it can hold {n(lim.get('relay_capacity'))} connections with it; nginx and the load generator need
one descriptor per connection too, so the largest size is {n(lim.get('limit_clients'))} subscribers
(plus one publisher connection). Beyond 25 000 connections the generator would bind
several 127.0.0.x source addresses; at this limit one address suffices.
"""
    return out


def dagger(v):
    return "†" if v.get("disturbed") else ""


def fanout_section(fan, images):
    out = "## Fan-out: relay vs nginx+nchan\n\n"
    out += (f"{fan['channels']} channels, {fan['payload_bytes']}-byte messages, one publisher connection. "
            "Saturation: publishers send as fast as "
            f"{fan.get('saturation_in_flight', 10000):,} deliveries in flight allow. "
            "Latency is publish → receive at the subscriber; CPU is the server's, per delivery.\n\n")
    for key, s in fan["sizes"].items():
        out += f"### {int(key):,} subscribers ({s['subscribers_per_channel']} per channel)\n\n"
        rows = []
        for srv in ("relay", "nchan"):
            v = s["saturation"].get(srv)
            if v:
                rows.append([srv, "saturation", n(v["deliveries_per_s"]) + dagger(v),
                             f"{n(v['saturation_deliveries_per_s'])} ({v['saturation_basis']})",
                             pct(v["server_cpu_util"]), n(v["cpu_us_per_delivery"]), ms(v["p50_ms"]),
                             ms(v["p99_ms"]), ms(v["p999_ms"]), f"{v['loss_ratio']:.2%}"])
        for p in s["fixed"]:
            f = p["fraction_of_nchan_saturation"]
            label = f"{pct(f)} of nchan's: {n(p['deliveries_per_s_target'])}/s" if f is not None \
                else f"{n(p['deliveries_per_s_target'])}/s"
            for srv in ("relay", "nchan"):
                v = p.get(srv)
                if v:
                    rows.append([srv, label, n(v["deliveries_per_s"]) + dagger(v), "", pct(v["server_cpu_util"]),
                                 n(v["cpu_us_per_delivery"]), ms(v["p50_ms"]), ms(v["p99_ms"]), ms(v["p999_ms"]),
                                 f"{v['loss_ratio']:.2%}"])
        out += md_table(["server", "load", "deliveries/s", "saturation", "server CPU", "µs/delivery",
                         "p50 ms", "p99 ms", "p999 ms", "lost"], rows) + "\n"
    out += f"![server CPU per delivery]({images['cpu']})\n\n"
    out += f"![latency]({images['latency']})\n\n"
    out += f"![saturation]({images['saturation']})\n\n"
    return out


def idle_section(idle, storm, image):
    out = "## Connections\n\n### Idle connections\n\n"
    out += (f"Joined WebSocket connections held {idle['hold_s']:g} s with heartbeats every {idle['heartbeat_s']:g} s "
            "(Phoenix heartbeats to the relay, WebSocket pings to nchan). Resident memory per connection = "
            "(RSS at the end - RSS before the first connection) / connections.\n\n")
    rows = []
    for k, d in idle["sizes"].items():
        for srv in ("relay", "nchan"):
            v = d[srv]
            rows.append([f"{int(k):,}", srv, n(v["joined"]), n(v["rss_before_kb"]), n(v["rss_end_kb"]),
                         n(v["bytes_per_connection"]) + dagger(v), n(v["heartbeat_replies"])])
    out += md_table(["connections", "server", "joined", "RSS before KiB", "RSS held KiB", "bytes/connection",
                     "heartbeat replies"], rows) + "\n"
    if storm:
        out += f"### Connection storm\n\nConnect + join {storm['clients']:,} clients as fast as 512 handshakes in flight allow.\n\n"
        rows = [[srv, n(v["joined"]), n(v["failed"]), f"{v['elapsed_s']:.2f}", n(v["joins_per_second"]) + dagger(v),
                 ms(v["join_p50_ms"]), ms(v["join_p99_ms"]), n(v["server_cpu_us_per_join"])]
                for srv, v in storm["servers"].items()]
        out += md_table(["server", "joined", "failed", "seconds", "joins/s", "connect→joined p50 ms", "p99 ms",
                         "server CPU µs/join"], rows) + "\n"
    out += f"![connections]({image})\n\n"
    return out


def decode_section(dec, image):
    out = "## Postgres changes\n\n### Decoding (the output plugin)\n\n"
    out += (f"{dec['rows']:,} row inserts ({dec['rows_per_transaction']} per transaction, a {dec['table_columns']}-column "
            f"table) decoded by `pg_logical_slot_peek_changes` from the same WAL: pg_realtime with 0, 1 000 and "
            f"10 000 subscriptions (`{dec['subscriptions']['filter']}`, {dec['matched_fraction']:.0%} of rows match), "
            f"wal2json (format-version 2, no filtering) and test_decoding. Best of {dec['repeats']}. "
            "The decoding backend's CPU time is read from /proc, so the rate per CPU second does not move with "
            "other load. Each pg_realtime session first loads realtime.subscription and compiles its index "
            "(\"session start\", measured apart on a one-row slot); the steady rate leaves it out.\n\n")
    rows = []
    for v, r in dec["results"].items():
        rows.append([v, n(r["documents"]), f"{r['seconds']:.3f}", n(r["rows_per_second"]), n(r["rows_per_cpu_second"]),
                     f"{r['session_start_seconds'] * 1000:.1f}" if "session_start_seconds" in r else "",
                     n(r.get("steady_rows_per_second"))])
    out += md_table(["variant", "documents", "seconds", "rows/s", "rows/CPU s", "session start ms",
                     "steady rows/s"], rows) + "\n"
    out += f"![decoding]({image})\n\n"
    if "users_rls" in dec["subscriptions"]:
        rls = dec["subscriptions"]["users_rls"]
        out += (f"Row level security, compiled: `pg_realtime_users_rls` has {rls['users']:,} subscribers of "
                f"distinct users (role authenticated) under the policy `{rls['policy']}`, {rls['owning_rows']:,} "
                "of them owning rows; `pg_realtime_users_filters` has the same subscribers without row level "
                f"security, each filtering `{dec['subscriptions']['users_filters']['filter']}`. Same rows, same "
                "matches (a uuid user_id column added to the table).\n\n")
    return out


def rls_section(dec, chk, chg):
    """Row level security (issue 11): compiled policies in decoding, the general path's
    checks beside Supabase's method, and commit -> client with RLS on."""
    out = "## Row level security\n\n"
    out += ("Issue 11's figures, each side by side with its comparison in the same run. Policies the plugin "
            "compiles cost what filters cost while decoding; the others are checked by the slot holder with "
            "`realtime.check_rows`, one call per batch of changes for all candidates.\n\n")
    sizes = {x["size"] for x in (dec, chk) if x and "size" in x}
    if sizes and sizes != {"full"}:
        out += (f"BENCH_SIZE={'/'.join(sorted(sizes))}: fewer changes per run, on the shared 2-core machine while "
                "other work ran (wall-time figures move with that load; the decoding figures are per CPU second "
                "of the decoding backend).\n\n")
    if dec and dec.get("targets", {}).get("rls_10k_users_vs_filters") is not None:
        res, key = dec["results"], dec["targets"]["measured_on"]
        f, r = res["pg_realtime_users_filters"], res["pg_realtime_users_rls"]
        rls = dec["subscriptions"]["users_rls"]
        out += ("### Compiled policies: decoding\n\n"
                f"{dec['rows']:,} inserts decoded from the same WAL, {rls['users']:,} subscribers of distinct users: "
                f"with row level security (`{rls['policy']}`, role authenticated) and, without it, each subscriber "
                f"filtering `{dec['subscriptions']['users_filters']['filter']}` (the same rows match).\n\n")
        out += md_table(["variant", "rows/s", "rows/CPU s", "session start ms"],
                        [[name, n(v["rows_per_second"]), n(v["rows_per_cpu_second"]),
                          f"{v['session_start_seconds'] * 1000:.1f}" if "session_start_seconds" in v else ""]
                         for name, v in (("filters, no RLS", f), ("compiled RLS", r))])
        out += (f"\nRLS / filters: ×{dec['targets']['rls_10k_users_vs_filters']} ({key.replace('_', ' ')}; "
                f"target ≥ ×0.85: {verdict(dec['targets']['rls_10k_users_within_15_percent_of_filters'])}).\n\n")
    if chk:
        out += rls_check_section(chk)
    if chg and chg.get("rls"):
        out += rls_changes_section(chg)
    return out


def private_section(prv):
    out = "### Private channels: join storm and broadcast from the database\n\n"
    st = prv.get("storm")
    if st:
        out += (f"Connect + join {n(st['public']['clients'])} clients over {prv['channels']} channels as fast as "
                "rt-loadgen's 512 handshakes in flight allow, with public joins, then with `config.private: true`: "
                "every private join runs `realtime.authorize` on the relay's database pool (4 sessions) under the "
                f"documentation's {prv['policy']} policy.\n\n")
        rows = [[k, n(v["joined"]), n(v["failed"]), n(v["joins_per_second"]), ms(v["join_p50_ms"]),
                 ms(v["join_p99_ms"]), "yes" if v.get("disturbed") else "no"] for k, v in st.items()]
        out += md_table(["channels", "joined", "failed", "joins/s", "p50 ms", "p99 ms", "disturbed"], rows) + "\n"
    d = prv.get("db_broadcast")
    if d:
        out += (f"`realtime.broadcast_changes` in an AFTER INSERT trigger, {d['batch']} rows per transaction, to "
                f"{n(d['subscribers'])} private subscribers of one topic: rows/s from the first commit until the "
                "relay had written every row to every subscriber (its `realtime_messages_out_total`).\n\n")
        out += md_table(["rows", "deliveries", "seconds", "rows/s", "deliveries/s", "disturbed"],
                        [[n(d["rows"]), f"{n(d['delivered'])}/{n(d['expected'])}", f"{d['seconds']:.2f}",
                          n(d["rows_per_second"]), n(d["deliveries_per_second"]),
                          "yes" if d.get("disturbed") else "no"]]) + "\n"
    return out


def rls_check_section(chk):
    out = "### General path: changes checked per second, beside Supabase's method\n\n"
    out += (f"The evaluation alone, on one connection: the membership policy `{' '.join(chk['policy'].split())}` (each user a "
            f"member of 3 of {chk['orgs']} organizations), every subscriber a candidate of every change, "
            "documents from the plugin. Ours: `realtime.check_rows`, one call per batch of changes, every change "
            "against every candidate (the relay batches the documents that arrive while a call is in flight, up "
            "to 100). Baseline: Supabase's method reimplemented in our own SQL from its description: per change "
            "and subscriber, set role and claims, read the row by primary key under RLS (a statement prepared "
            "once per change).\n\n")
    res = chk["results"]
    by_n = chk.get("set_based_batch_20_vs_baseline_by_subscribers") or {}
    if by_n:
        rows = []
        for k, ratio in by_n.items():
            b, o = res[f"baseline_{k}_subscribers"], res[f"set_based_batch_20_{k}_subscribers"]
            rows.append([n(int(k)), n(b["changes_per_second"]), n(o["changes_per_second"]), f"×{ratio}"])
        out += md_table(["subscribers", "baseline changes/s", "ours, batches of 20: changes/s", "ratio"], rows) + "\n"
    names = {"set_based_batch_1": "ours, 1 change per call", "set_based_batch_20": "ours, batches of 20",
             "set_based_batch_100": "ours, batches of 100",
             "per_user_batch_1": "ours, per user (SECURITY DEFINER function), 1 change per call",
             "baseline_supabase_method": "baseline"}
    rows = [[names[k], n(res[k]["changes"]), f"{res[k]['seconds']:.3f}", n(res[k]["changes_per_second"]),
             n(res[k]["candidate_checks_per_second"])] for k in names if k in res]
    out += (f"At {chk['candidates']:,} subscribers:\n\n" +
            md_table(["variant", "changes", "seconds", "changes/s", "candidate checks/s"], rows) + "\n")
    out += f"Batches of 20 / baseline at {chk['candidates']:,} subscribers: ×{chk['set_based_vs_baseline']}"
    if "set_based_batch_100_vs_baseline" in chk:
        out += f"; batches of 100: ×{chk['set_based_batch_100_vs_baseline']}"
    if "target_100x_met" in chk:
        out += f" (target ≥ ×100: {verdict(chk['target_100x_met'])})"
    return out + ".\n\n"


def rls_changes_section(chg):
    out = "### Commit → client with row level security on\n\n"
    lat = chg["rls"][next(iter(chg["rls"]))]["latency_at_1000_per_s"]
    tp = chg["rls"][next(iter(chg["rls"]))]["throughput"]
    out += (f"The end-to-end benchmark above (one relay, {chg['subscribers']:,} subscribers, 10 per change; "
            f"{lat['rows']:,} rows at 1 000 changes/s, then {tp['rows']:,} as fast as possible), in one run without "
            "row level security (`none`) and with it enabled on the table and one policy for the subscribers' "
            "role. `compiled`: decided "
            "by the plugin while decoding. `checked`: a sub-select the plugin cannot decide, so every change is "
            "checked by the slot holder (`realtime.check_rows` on its database pool, its 10 candidates, batched "
            "while a call is in flight) before it is delivered.\n\n")
    rows = []
    variants = [("none", "-", chg["nodes"]["1"])] if "1" in chg["nodes"] else []
    variants += [(k, f"`{d['policy']}`", d) for k, d in chg["rls"].items()]
    for name, policy, d in variants:
        lat, tp = d["latency_at_1000_per_s"], d["throughput"]
        calls = (d.get("metrics") or {}).get("realtime_rls_check_calls_total")
        rows.append([name, policy, ms(lat["p50_ms"]) + dagger(lat), ms(lat["p99_ms"]), ms(lat["p999_ms"]),
                     f"{n(lat['records'])}/{n(lat['records_expected'])}",
                     n(tp.get("delivered_changes_per_s")) + dagger(tp), n(tp.get("relay_cpu_us_per_change")),
                     n(int(calls)) if calls is not None else "-"])
    out += md_table(["RLS", "policy", "p50 ms at 1 000/s", "p99 ms", "p999 ms", "records received",
                     "delivered changes/s (as fast as possible)", "relay CPU µs/change", "check calls (both runs)"],
                    rows)
    out += "\n† disturbed: other processes used the machine during the run.\n\n"
    return out + ("Full size: `BENCH_SIZE=full /usr/bin/python3 bench/changes_bench.py --nodes 1 --rls "
                  "compiled,checked`, `bench/rls_check_bench.py` and `bench/decode_bench.py` (or `make bench`).\n\n")


def changes_section(chg, image):
    out = "### End to end: commit → client\n\n"
    out += (f"{chg['subscribers']:,} subscribers (rt-loadgen latency-watch) in {chg['filter_values']} channels, each "
            f"channel's binding `{chg['binding']}`: {chg['subscribers']:,} subscriptions over {chg['filter_values']} "
            "filter values, so each change goes to 10 clients. A PL/pgSQL writer inserts rows whose `ts` column is "
            "clock_timestamp() in epoch µs, taken in the INSERT just before its COMMIT; latency = the client's "
            "CLOCK_REALTIME at receipt - ts. Latency run: one row per transaction, 1 000 changes/s. Throughput "
            "run: 100 rows per transaction as fast as Postgres takes them; delivered changes/s = rows / (last "
            f"record received - writing start). Postgres {chg['postgres']['version']} (fsync "
            f"{chg['postgres']['fsync']}) runs on core {chg['postgres']['cpu']} with the load generator; with three "
            "nodes the subscribers are spread over the three relays, which share the server core, and the slot "
            "holder forwards changes to the others over the mesh.\n\n")
    rows = []
    for k, d in chg["nodes"].items():
        for run, label in (("latency_at_1000_per_s", "1 000 changes/s"), ("throughput", "as fast as possible")):
            v = d[run]
            cpu = v.get("cpu") or {}
            client = v.get("client_core_util")
            if client is None:
                client = sum(cpu.get(x, 0) for x in ("loadgen_util", "postgres_util", "driver_util"))
            rows.append([k, label, n(v["rows"]), f"{n(v['records'])}/{n(v['records_expected'])}",
                         n(v.get("written_changes_per_s")), n(v.get("delivered_changes_per_s")) + dagger(v),
                         n(v.get("deliveries_per_s")), ms(v["p50_ms"]), ms(v["p99_ms"]), ms(v["p999_ms"]),
                         n(v.get("relay_cpu_us_per_change")), pct(cpu.get("relays_util")), pct(client),
                         n(v.get("projected_changes_per_relay_core_s")) if run == "throughput" else ""])
    out += md_table(["nodes", "writer", "rows", "records received", "written changes/s", "delivered changes/s",
                     "deliveries/s", "p50 ms", "p99 ms", "p999 ms", "relay CPU µs/change", "relay core busy",
                     "client core busy", "changes/s per relay core (projected)"], rows) + "\n"
    tp = [d["throughput"] for d in chg["nodes"].values()]
    if any(v.get("bound_by") == "client core" for v in tp):
        out += ("The throughput runs were limited by the client core (load generator, Postgres's writer and "
                "walsender, the driver: \"client core busy\"), not by the relays, which had CPU to spare: "
                "the last column projects the relays' capacity from their CPU time per change. ")
    out += ("In the throughput runs the writer is ahead of delivery, so latency there is queueing "
            "(how far behind the stream was), not a latency figure.\n\n")
    out += f"![commit to client latency]({image})\n\n"
    return out


def cluster_section(clu, image):
    out = "## Cluster\n\n"
    if "latency" in clu:
        lat = clu["latency"]
        out += (f"### Cross-node broadcast latency\n\nThree relays in a full mesh (fresh for each run). {lat['clients']:,} "
                f"subscribers in {lat['channels']} channels, {n(lat['deliveries_per_s_target'])} deliveries/s of 64-byte "
                "broadcasts from a WebSocket publisher on node a. Local: every subscriber on a. Cross-node: "
                "subscribers on b and c.\n\n")
        rows = [[k.replace("_", "-"), n(v["deliveries_per_s"]) + dagger(v), ms(v["p50_ms"]), ms(v["p90_ms"]),
                 ms(v["p99_ms"]), ms(v["p999_ms"]), f"{v['loss_ratio']:.2%}"]
                for k, v in (("local", lat["local"]), ("cross_node", lat["cross_node"]))]
        out += md_table(["subscribers", "deliveries/s", "p50 ms", "p90 ms", "p99 ms", "p999 ms", "lost"], rows)
        out += f"\nThe hop adds {lat['hop_p50_ms']:+.3f} ms at p50 and {lat['hop_p99_ms']:+.3f} ms at p99.\n\n"
        out += f"![cross-node latency]({image})\n\n"
    if "throughput" in clu:
        t = clu["throughput"]
        out += (f"### Cross-node throughput\n\n{t['clients']:,} subscribers in {t['channels']} channels, publisher on a, as "
                f"fast as {t.get('in_flight', 10000):,} deliveries in flight allow. Three nodes: subscribers spread over a, b and c (all "
                "three relays on the one server core). CPU is the sum over the relays.\n\n")
        rows = [[k.replace("_", " "), n(v["deliveries_per_s"]) + dagger(v), pct(v["server_cpu_util"]),
                 n(v["cpu_us_per_delivery"]), n(v["projected_deliveries_per_core_s"]), pct(v["loadgen_cpu_util"]),
                 f"{v['loss_ratio']:.2%}"]
                for k, v in (("one_node", t["one_node"]), ("three_nodes", t["three_nodes"]))]
        out += md_table(["", "deliveries/s", "relays CPU", "µs/delivery", "projected per core",
                         "load generator CPU", "lost"], rows) + "\n"
    if "failover" in clu:
        failover = clu["failover"]
        # One run of each signal (bench/cluster_bench.py); older results held SIGKILL only.
        by_signal = {how: failover[how] for how in ("sigkill", "sigstop") if how in failover} or {"sigkill": failover}
        out += ("### Slot failover\n\nThree relays with a database (default `--heartbeat-ms 500 --peer-down-ms 3000`), "
                "a row inserted every 10 ms, a client on each relay that does not hold the slot. SIGKILL of the "
                "holder, or SIGSTOP (a stalled holder, taken over by a standby); failover = first arrival of a row "
                "committed after the signal (only the new holder can deliver it). Fresh cluster and slot per run.\n\n")
        for how, f in by_signal.items():
            rows = [[i + 1, r["old_holder"], r["new_holder"], r["new_holder_in_health_s"], r["failover_s"],
                     n(r["rows_committed"]), ", ".join(str(x) for x in r["rows_missing_per_client"])]
                    for i, r in enumerate(f["runs"])]
            out += f"{how.upper()} of the holder:\n\n"
            out += md_table(["run", "signalled", "new holder", "new holder in /api/health, s", "failover s",
                             "rows written", "rows missing per client"], rows)
            out += f"\nMedian {f['median_s']} s, max {f['max_s']} s over {f['repeats']} runs.\n\n"
    return out


def mesh_section(mesh):
    out = "## The mesh: CURVE and the acknowledged hand-over\n\n"
    if "curve" in mesh:
        c = mesh["curve"]
        out += (f"### Cross-node hop, CURVE on vs off\n\nThe cross-node latency run above ({c['clients']:,} subscribers, "
                f"{n(c['deliveries_per_s_target'])} deliveries/s of 64-byte broadcasts, publisher on a), on a plain "
                "mesh and on a mesh where every node has a CURVE key pair (`--cluster-key`, peers as "
                "`endpoint@key`): every mesh message encrypted and authenticated. Hop = cross-node (subscribers "
                "on b and c) minus local (all on a).\n\n")
        rows = [[k, ms(v["local"]["p50_ms"]), ms(v["cross_node"]["p50_ms"]), f"{v['hop_p50_ms']:+.3f}",
                 ms(v["local"]["p99_ms"]), ms(v["cross_node"]["p99_ms"]), f"{v['hop_p99_ms']:+.3f}",
                 n(v.get("relay_cpu_us_per_delivery_cross")) + dagger(v["cross_node"])]
                for k, v in (("plain", c["plain"]), ("CURVE", c["curve"]))]
        out += md_table(["mesh", "local p50 ms", "cross p50 ms", "hop p50 ms", "local p99 ms", "cross p99 ms",
                         "hop p99 ms", "relays µs/delivery (cross)"], rows)
        out += (f"\nThe hop with CURVE differs from the plain mesh's by {c['curve_extra_hop_p50_ms']:+.3f} ms at p50 "
                f"and {c['curve_extra_hop_p99_ms']:+.3f} ms at p99.\n\n")
    if "handover" in mesh:
        h = mesh["handover"]
        out += ("### The acknowledged hand-over's cost\n\nThe changes throughput run (1 000 subscribers of 100 "
                "filter values, 100 rows per transaction as fast as Postgres takes them) on one relay and on three "
                "(subscribers spread over them; the slot holder hands each change to its subscribers' node, keeps it "
                "until that node confirms it). No switch hands over without the backlog, so the cost is the slot "
                "holder's CPU per change against a lone relay's, the confirmations it receives and the backlog's "
                "peak (sampled every 100 ms).\n\n")
        rows = [[v["nodes"], n(v["delivered_changes_per_s"]) + dagger(v), n(v["holder_cpu_us_per_change"]),
                 n(v.get("relays_cpu_us_per_change")),
                 n(v.get("acks_per_s")), n(v.get("acks_per_change"), 4) if v.get("acks_per_change") is not None else "-",
                 n(v.get("backlog_peak_bytes")), n(v.get("backlog_peak_changes")), n(v.get("resent"))]
                for v in (h["one_node"], h["three_nodes"])]
        out += md_table(["nodes", "changes/s delivered", "holder µs/change", "all relays µs/change", "confirmations/s (whole run)",
                         "confirmations/change", "backlog peak bytes", "backlog peak changes", "resent"], rows)
        out += (f"\nBeside a lone relay, the slot holder of three spends {h['holder_extra_cpu_us_per_change']:+.2f} µs "
                "per change (it hands two thirds of the subscribers' changes over instead of delivering them itself), "
                f"and the three relays together {h.get('relays_extra_cpu_us_per_change', 0):+.2f} µs per change "
                "(the hand-over, its backlog and confirmations, and the receivers' own work on each document). "
                "A node confirms what its clients' sockets took as soon as that advances (at most one confirmation "
                "per turn of its mesh thread, woken by its loop's writes, `hub/write_ledger`), and what it received "
                "at most every 20 ms: the confirmations follow the turns of the receivers' loops, not each change.")
        resent = h["three_nodes"].get("resent") or 0
        if resent:
            out += (f" {n(resent)} changes were sent twice ({resent / h['three_nodes']['rows']:.1%} of the rows): "
                    "the holder resends what a node has not said it received 1 s after it was sent "
                    "(`HandOver::Bounds::resend_after_ms`), which a receiver whose mesh thread is that far behind (a "
                    "busy core) triggers although nothing was lost; the receiver drops the copies as duplicates.")
        out += "\n\n"
    seam = load("seam")
    if seam and "handover" in seam:
        out += seam_section(seam)
    return out


# Issue 15: nodes confirm what their sockets took instead of what their loop processed.
def seam_section(seam):
    before, after = seam["handover"]["before"], seam["handover"]["after"]
    out = ("### Confirming at the socket write (issue 15)\n\nA node used to confirm to the slot holder what its "
           "loop had processed, every 20 ms, and the slot holder waited 50 ms after a position for its own loop to "
           "write; now both confirm what the clients' sockets took (or parked), at the end of the loop turn "
           "that wrote it. The same hand-over run with the relay built just before the change and just after "
           f"(bench/mesh_bench.py --only handover, {seam['handover'].get('size', '?')} size, one run each, on the shared "
           "machine under heavier load than the run above, so its absolute figures are lower; "
           "bench/results/seam.json):\n\n")
    rows = []
    for label, h in (("before", before), ("after", after)):
        for v in (h["one_node"], h["three_nodes"]):
            rows.append([label, v["nodes"], n(v["delivered_changes_per_s"]) + dagger(v),
                         n(v.get("relays_cpu_us_per_change")), n(v.get("acks_per_s")),
                         n(v.get("backlog_peak_bytes")), n(v.get("resent"))])
    out += md_table(["relay", "nodes", "changes/s delivered", "all relays µs/change", "confirmations/s",
                     "backlog peak bytes", "resent"], rows)
    if seam.get("doubled"):
        out += ("\nDoubles at the seam (`tests/cluster/test_cluster_resume.py`, ~500 rows/s, a client's node "
                "SIGKILLed and the client resuming on another node; the rows it got twice):\n\n")
        out += md_table(["relay", "a non-holder killed", "the slot holder killed"],
                        [[k, ", ".join(map(str, v["non_holder"])), ", ".join(map(str, v["holder"]))]
                         for k, v in seam["doubled"].items()])
        out += "\n" + seam.get("note", "") + "\n\n"
    b3, a3 = before["three_nodes"], after["three_nodes"]
    if b3.get("relays_cpu_us_per_change") and a3.get("relays_cpu_us_per_change"):
        out += (f"The cost: on three nodes the relays spent {a3['relays_cpu_us_per_change'] - b3['relays_cpu_us_per_change']:+.1f} "
                f"µs per change ({n(b3.get('acks_per_s'))} confirmations/s before, {n(a3.get('acks_per_s'))} after: one per "
                "receiving loop turn instead of one per 20 ms); throughput and the backlog's peak stayed within the "
                "noise. " + seam.get("cost_note", "") + "\n\n")
    return out


def main():
    fan, idle, storm = load("fanout"), load("idle"), load("storm")
    dec, chg, clu = load("decode"), load("changes"), load("cluster")
    chk = load("rls_check")
    prv = load("private")
    mesh = load("mesh")
    present = [r for r in (fan, idle, storm, chg, clu) if r]
    if not present:
        raise SystemExit(f"no results in {C.RESULTS_DIR}")
    parts = ["# Benchmarks\n\n<!-- written by bench/report.py from bench/results/*.json; edit bench/profiles.md "
             "or the generator, not this file -->\n\n"
             "pg_realtime's relay beside nginx+nchan, measured in the same run on the same machine, and the "
             "Postgres Changes path from WAL decoding to the client. One command reproduces every figure: "
             "`make bench`.\n\n"]
    parts.append(targets_section(fan, idle, dec, chg, clu))
    parts.append(method_section(present[0], fan))
    if fan:
        parts.append(fanout_section(fan, plot_fanout(fan)))
    if idle:
        parts.append(idle_section(idle, storm, plot_idle(idle, storm)))
    if dec:
        parts.append(decode_section(dec, plot_decode(dec)))
    if prv:
        parts.append(private_section(prv))
    if chg:
        groups = {}
        for k, d in chg["nodes"].items():
            groups[f"{k} node{'s' if k != '1' else ''}"] = d["latency_at_1000_per_s"]
        img = plot_latency_pair(groups, "commit → client at 1 000 changes/s", "bench_changes_latency.png")
        if not dec:
            parts.append("## Postgres changes\n\n")
        parts.append(changes_section(chg, img))
    if chk or (chg and chg.get("rls")) or (dec and dec.get("targets", {}).get("rls_10k_users_vs_filters")):
        parts.append(rls_section(dec, chk, chg))
    if clu:
        img = None
        if "latency" in clu:
            img = plot_latency_pair({"local (all on a)": clu["latency"]["local"],
                                     "cross-node (a → b, c)": clu["latency"]["cross_node"]},
                                    "broadcast publish → receive", "bench_cluster_latency.png")
        parts.append(cluster_section(clu, img))
    if mesh:
        parts.append(mesh_section(mesh))
    if os.path.exists(PROFILES):
        with open(PROFILES) as f:
            parts.append(f.read().rstrip() + "\n")
    os.makedirs(DOCS_DIR, exist_ok=True)
    path = os.path.join(DOCS_DIR, "benchmarks.md")
    with open(path, "w") as f:
        f.write("\n".join(p.rstrip() + "\n" for p in parts))
    C.log(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
