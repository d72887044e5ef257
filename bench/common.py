"""Shared machinery of the benchmarks (bench/*_bench.py, bench/run_all.py).

Owns: sizes (BENCH_SIZE), where results go (BENCH_RESULTS_DIR), CPU pinning (server on
BENCH_SERVER_CPU, default 0; load generator, Postgres and Python drivers on
BENCH_CLIENT_CPU, default 1), starting and always stopping every process a benchmark
starts (own process group each; stopped in finally blocks, at exit and on SIGTERM),
running build/rt-loadgen and repeating a run that other processes disturbed, the
machine and version record, and printing tables.

Every benchmark module imports this and can run alone:
    BENCH_SIZE=tiny /usr/bin/python3 bench/fanout_bench.py
"""
import atexit
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "peers"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support import cluster as mesh  # noqa: E402  (the tests' cluster helpers)
from support import relay as launcher  # noqa: E402  (the one relay launcher)
from support.ports import free_port  # noqa: E402

BUILD = os.path.join(ROOT, "build")
LOADGEN = os.environ.get("BENCH_LOADGEN", os.path.join(BUILD, "rt-loadgen"))
RELAY_BIN = launcher.RELAY_BIN
RESULTS_DIR = os.environ.get("BENCH_RESULTS_DIR", os.path.join(HERE, "results"))
SIZES = ("tiny", "small", "full")
SIZE = os.environ.get("BENCH_SIZE", "full")
if SIZE not in SIZES:
    # decode_bench.py alone also takes a row count; everything else needs a name
    SIZE = "full"
SERVER_CPU = int(os.environ.get("BENCH_SERVER_CPU", "0"))
CLIENT_CPU = int(os.environ.get("BENCH_CLIENT_CPU", "1"))
# A run during which other processes took more than this share of a core is repeated
# (at most BENCH_TRIES times); the least disturbed try is kept and flagged.
QUIET_UTIL = float(os.environ.get("BENCH_QUIET_UTIL", "0.05"))
# Niceness of the servers and the load generator (0: as on a dedicated machine). On a
# shared machine a negative value keeps other processes from preempting the measured
# ones as often; it applies to both servers alike. Recorded with the machine.
NICE = int(os.environ.get("BENCH_NICE", "0"))
TRIES = int(os.environ.get("BENCH_TRIES", "1" if SIZE == "tiny" else "4"))
JWT_SECRET = "bench-secret-with-at-least-32-characters!"
# Deliveries in flight when measuring throughput (closed loop, --rate 0). A window of
# one message per channel (10 000 at 10 000 subscribers in 100 channels) leaves a server
# idle between a delivery and the next publish; an overloaded server has a backlog, and
# what it does with one (batching writes) is part of its throughput. 100 000 is about
# ten messages queued per channel at that size; the same window for every server.
SATURATION_IN_FLIGHT = 100000
# Every process started here carries this in its environment, so a test can prove that
# none is left running.
RUN_ID = os.environ.setdefault("BENCH_RUN_ID", f"bench-{os.getpid()}-{int(time.time())}")


def by_size(tiny, small, full):
    return {"tiny": tiny, "small": small, "full": full}[SIZE]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# -- processes ---------------------------------------------------------------------------

_procs = []  # every Popen started by spawn(), stopped by stop_all()


def _preexec(cpu):
    def fn():
        os.setsid()  # own process group: stopped as a group, untouched by the caller's signals
        if cpu is not None:
            os.sched_setaffinity(0, {int(cpu)})
            if NICE:
                os.nice(NICE)
        try:
            import resource
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except Exception:
            pass
    return fn


def spawn(cmd, cpu=None, **kwargs):
    """Popen in its own process group, pinned to cpu, remembered for stop_all()."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(cmd, preexec_fn=_preexec(cpu), **kwargs)
    _procs.append(p)
    return p


def stop_process(p, timeout=10, sig=signal.SIGTERM):
    """Signals p's process group, waits, then SIGKILLs the group."""
    if p is None:
        return
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(p.pid, signal.SIGKILL)  # stragglers in the group, if any
    except (ProcessLookupError, PermissionError):
        pass
    if p.poll() is None:
        p.wait()
    if p in _procs:
        _procs.remove(p)


def stop_all():
    for p in list(reversed(_procs)):
        try:
            stop_process(p, timeout=5)
        except Exception:
            pass


def _on_signal(signum, frame):
    stop_all()
    raise SystemExit(128 + signum)


atexit.register(stop_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    try:
        signal.signal(_sig, _on_signal)
    except ValueError:  # not the main thread
        pass


def pin_tree(root_pid, cpu):
    """Pins root_pid and its current children (e.g. a postmaster and its helpers) to cpu;
    processes it forks later inherit the affinity."""
    for pid in [root_pid] + children_of(root_pid):
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                os.sched_setaffinity(int(tid), {cpu})
        except OSError:
            pass


# -- CPU accounting ----------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    """utime+stime of a process (all its threads), seconds; 0 when it is gone. A
    negative pid also counts the children it has reaped (cutime+cstime): a postmaster's
    short-lived workers."""
    try:
        with open(f"/proc/{abs(pid)}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own = int(fields[11]) + int(fields[12])
        return (own + (int(fields[13]) + int(fields[14]) if pid < 0 else 0)) / TICK
    except (OSError, ValueError, IndexError):
        return 0.0


def children_of(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                out.append(int(entry))
    return out


def machine_busy_s():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICK


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class CpuWindow:
    """CPU used over a window by named groups of processes, and by everything else on
    the machine (foreign). groups: {name: callable returning pids} (evaluated at both
    ends, so processes that appear meanwhile, e.g. new backends, count from their start)."""

    def __init__(self, groups):
        self.groups = groups

    def _sample(self):
        cpu = {}
        for name, pids in self.groups.items():
            cpu[name] = {pid: proc_cpu_s(pid) for pid in pids()}
        return time.monotonic(), machine_busy_s(), cpu

    def start(self):
        self.t0, self.busy0, self.cpu0 = self._sample()
        return self

    def stop(self):
        t1, busy1, cpu1 = self._sample()
        wall = max(t1 - self.t0, 1e-9)
        out = {"wall_s": round(wall, 3)}
        known = 0.0
        for name in self.groups:
            used = sum(v - self.cpu0[name].get(pid, 0.0) for pid, v in cpu1[name].items())
            out[name + "_cpu_s"] = round(used, 3)
            out[name + "_util"] = round(used / wall, 3)
            known += used
        busy = busy1 - self.busy0
        out["machine_busy_s"] = round(busy, 3)
        out["foreign_util"] = round(max(0.0, busy - known) / wall, 3)
        return out


class CpuTrace:
    """CpuWindow samples taken every `period` seconds by a thread, so that the CPU used
    between two instants known only afterwards (e.g. the last record received) can be
    read: between(t0, t1) with epoch seconds."""

    def __init__(self, groups, period=0.1):
        import threading
        self.window = CpuWindow(groups)
        self.period = period
        self.samples = []  # (epoch s, machine busy s, {group: {pid: cpu s}})
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            _, busy, cpu = self.window._sample()
            self.samples.append((time.time(), busy, cpu))
            if self._halt.wait(self.period):
                return

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._halt.set()
        self._thread.join()

    def between(self, t0, t1):
        if not self.samples:
            return {"foreign_util": 0.0}
        ia = min(range(len(self.samples)), key=lambda i: abs(self.samples[i][0] - t0))
        ib = min(range(len(self.samples)), key=lambda i: abs(self.samples[i][0] - t1))
        a, b = self.samples[ia], self.samples[ib]
        wall = max(b[0] - a[0], 1e-9)
        out = {"wall_s": round(wall, 3)}
        known = 0.0

        def last_seen(name, pid):
            """A process gone by sample b counts with its last reading."""
            for i in range(ib, ia - 1, -1):
                v = self.samples[i][2][name].get(pid, 0.0)
                if v:
                    return v
            return 0.0
        for name in self.window.groups:
            pids = set(a[2][name]) | set(b[2][name])
            used = sum(max(0.0, last_seen(name, pid) - a[2][name].get(pid, 0.0)) for pid in pids)
            out[name + "_cpu_s"] = round(used, 3)
            out[name + "_util"] = round(used / wall, 3)
            known += used
        out["machine_busy_s"] = round(b[1] - a[1], 3)
        out["foreign_util"] = round(max(0.0, b[1] - a[1] - known) / wall, 3)
        return out


# -- servers -----------------------------------------------------------------------------

class Relay(launcher.Relay):
    """The tests' relay launcher (tests/support/relay.py) for benchmarks: on a free
    loopback port, pinned to a CPU in its own process group (spawn(), at niceness NICE),
    with quiet logs and no message rate limit (one publisher connection sends thousands of
    messages per second); stop() always ends it (SIGTERM, then SIGKILL) and removes its
    log."""
    http_timeout = 2  # a health check under load must not hold a benchmark up

    def __init__(self, cpu=SERVER_CPU, db=None, node_id=None, args=(), port=None, cluster_port=None,
                 peers=(), slot=None, log_level="warn"):
        port = port or free_port()
        super().__init__(db_dsn=db, node_id=node_id or f"bench-{port}", secret=JWT_SECRET, port=port,
                         args=["--max-events-per-second", "10000000"] + list(args), cluster_port=cluster_port,
                         peers=peers, slot=slot, log_level=log_level)
        self.cpu = cpu

    def spawn(self, cmd, logf, env):
        return spawn(cmd, cpu=self.cpu, stdout=logf, stderr=subprocess.STDOUT, env=env)

    def wait_slot(self, timeout=60):
        return super().wait_slot(timeout)

    def stop(self):
        stop_process(self.proc, timeout=10)
        self.proc = None
        self.remove_log()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class RelayCluster:
    """n relays in a full ZeroMQ mesh (node ids a, b, c, ...), all pinned to cpu."""

    def __init__(self, n=3, cpu=SERVER_CPU, db=None, slot=None, args=(), keys_dir=None):
        """keys_dir: a CURVE key pair per node made there (realtime-relay keygen), the mesh
        authenticated and encrypted."""
        names = [chr(ord("a") + i) for i in range(n)]
        if keys_dir:
            ports, peers, keys = mesh.keyed_layout(names, keys_dir)
        else:
            (ports, peers), keys = mesh.mesh_layout(names), {}
        self.relays = [Relay(cpu=cpu, db=db, slot=slot, node_id=name, cluster_port=ports[name], peers=peers[name],
                             args=list(args) + (["--cluster-key", keys[name][0]] if keys else []))
                       for name in names]

    def start(self, wait_mesh=True, timeout=60):
        try:
            for r in self.relays:
                r.start(wait=False)
            for r in self.relays:
                r.wait_healthy()
            if wait_mesh:
                self.wait_mesh(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_mesh(self, timeout=60):
        """Every live relay sees every other live one up."""
        mesh.wait_mesh([r for r in self.relays if r.alive()], timeout)

    def holder(self, timeout=60, exclude=()):
        """The one live relay streaming the slot (waits until exactly one says so)."""
        return mesh.wait_holder(self.relays, timeout, exclude=[r.node_id for r in exclude])

    @property
    def pids(self):
        return [r.pid for r in self.relays if r.alive()]

    def stop(self):
        for r in self.relays:
            try:
                r.stop()
            except Exception:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def pin_self(cpu=CLIENT_CPU):
    """Pins this driver (and what it starts without a CPU of its own, such as Postgres)
    to the client CPU."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        pass


def relay_capacity():
    """Connections a relay says it can hold (its start line), from a short-lived one."""
    r = Relay(log_level="info").start()
    try:
        text = r.log_tail()
    finally:
        r.stop()
    import re
    m = re.search(r"open-file limit (\d+), so it can hold (\d+) connections", text)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def nchan_server(cpu=SERVER_CPU):
    """nginx+nchan (bench/peers/nchan.py: one process, pinned), at niceness NICE like
    everything spawn() starts."""
    import nchan

    class Server(nchan.NchanServer):
        def start(self, *args, **kwargs):
            super().start(*args, **kwargs)
            if NICE:
                os.setpriority(os.PRIO_PROCESS, self.pid, NICE)  # one thread: the worker
            return self
    return Server(cpu=cpu)


def nofile_limits():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"soft": soft, "hard": hard}


# -- the load generator ------------------------------------------------------------------

def loadgen(args, cpu=CLIENT_CPU, timeout=900, ready_file=None, on_ready=None):
    """Runs build/rt-loadgen pinned to cpu and returns its JSON. on_ready(popen) is
    called once ready_file appears (e.g. to write rows); the run is stopped if it raises."""
    if not os.path.exists(LOADGEN):
        raise FileNotFoundError(f"{LOADGEN} is not built (make relay)")
    cmd = [LOADGEN] + [str(a) for a in args] + ["--quiet"]
    if ready_file:
        cmd += ["--ready-file", ready_file]
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    p = spawn(cmd, cpu=cpu, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + timeout
        if on_ready:
            while not os.path.exists(ready_file):
                if p.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            if p.poll() is None and os.path.exists(ready_file):
                on_ready(p)
        p.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        stop_process(p, timeout=5, sig=signal.SIGINT)  # SIGINT still prints the result
    out.seek(0)
    err.seek(0)
    text = out.read().decode(errors="replace")
    if not text.strip():
        raise RuntimeError(f"rt-loadgen printed no result (exit {p.returncode}): "
                           f"{err.read().decode(errors='replace')[-2000:]}")
    return json.loads(text)


def foreign_of(result):
    m = result.get("machine") or {}
    return float(m.get("foreign_util") or 0.0)


def fanout_summary(r):
    """The figures of one rt-loadgen fanout run that the benchmarks keep."""
    srv = r.get("server") or {}
    lat = r.get("latency_us") or {}
    return {
        "joined": r["connections"]["joined"],
        "deliveries_per_s": r["deliveries"]["per_second"],
        "expected": r["deliveries"]["expected"],
        "received": r["deliveries"]["received"],
        "loss_ratio": r["deliveries"]["loss_ratio"],
        "publish_rate_target": r["publish"]["rate_target"],
        "publish_rate_actual": r["publish"]["rate_actual"],
        "publish_skipped": r["publish"]["skipped"],
        "p50_ms": lat.get("p50", 0) / 1000, "p90_ms": lat.get("p90", 0) / 1000,
        "p99_ms": lat.get("p99", 0) / 1000,
        "p999_ms": lat.get("p999", 0) / 1000, "max_ms": lat.get("max", 0) / 1000,
        "server_cpu_util": srv.get("cpu_util"),
        "cpu_us_per_delivery": srv.get("cpu_us_per_delivery"),
        "projected_deliveries_per_core_s": srv.get("projected_deliveries_per_core_s"),
        "server_rss_kb": srv.get("rss_kb"),
        "loadgen_cpu_util": (r.get("loadgen") or {}).get("cpu_util"),
        "foreign_util": foreign_of(r),
        "tries": r.get("tries"),
        "disturbed": r.get("disturbed"),
        "errors": r.get("errors"),
    }


def quiet_run(label, fn, tries=None, foreign=foreign_of):
    """Calls fn() (one complete run: fresh server, load, result) until other processes
    took at most QUIET_UTIL of a core during it, at most `tries` times. Returns the
    least disturbed result, annotated with "tries" (foreign share of each try) and
    "disturbed" (still above the threshold)."""
    tries = tries or TRIES
    best, seen = None, []
    for attempt in range(tries):
        r = fn()
        f = foreign(r)
        seen.append(round(f, 3))
        log(f"  {label}: try {attempt + 1}: other processes {f * 100:.1f} % of a core")
        if best is None or f < foreign(best):
            best = r
        if f <= QUIET_UTIL:
            break
    best["tries"] = seen
    best["disturbed"] = foreign(best) > QUIET_UTIL
    return best


# -- records -----------------------------------------------------------------------------

def _cmd(args):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None


def package_version(name):
    r = _cmd(["dpkg-query", "-W", "-f", "${Version}", name])
    return r.stdout.strip() if r and r.returncode == 0 and r.stdout.strip() else None


def machine_info():
    info = {"cores": os.cpu_count(), "cpu_model": platform.processor() or "unknown",
            "memory_bytes": None, "kernel": platform.release(), "nofile": nofile_limits(),
            "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU, "nice": NICE}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                info["memory_bytes"] = int(line.split()[1]) * 1024
    r = _cmd(["lscpu"])
    if r and r.returncode == 0:
        for line in r.stdout.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("CPU max MHz", "Hypervisor vendor", "L3 cache"):
                info[k.strip().lower().replace(" ", "_")] = v.strip()
    return info


def git_commit():
    r = _cmd(["git", "-C", ROOT, "rev-parse", "HEAD"])
    commit = r.stdout.strip() if r and r.returncode == 0 else None
    d = _cmd(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "relay", "cluster",
              "pg_plugin", "bench/loadgen"])
    dirty = bool(d and d.stdout.strip())
    return {"commit": commit, "dirty": dirty,
            "dirty_paths": [l[3:] for l in d.stdout.splitlines()] if dirty else []}


def binary_info(path):
    import hashlib
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        return {"sha256_16": digest,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(path)))}
    except OSError:
        return None


def versions():
    nginx = _cmd(["nginx", "-v"])
    pg = _cmd(["/usr/lib/postgresql/15/bin/postgres", "--version"])
    return {
        "relay_git": git_commit(),
        "relay_binary": binary_info(RELAY_BIN),
        "loadgen_binary": binary_info(LOADGEN),
        "postgres": pg.stdout.strip() if pg else None,
        "postgresql-15": package_version("postgresql-15"),
        "nginx": nginx.stderr.strip() if nginx else None,
        "libnginx-mod-nchan": package_version("libnginx-mod-nchan"),
        "libwebsockets": package_version("libwebsockets17") or package_version("libwebsockets-dev"),
        "libzmq": package_version("libzmq5"),
        "libev": package_version("libev4"),
        "wal2json": package_version("postgresql-15-wal2json"),
        "gcc": package_version("g++"),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def write_result(name, data):
    """Writes RESULTS_DIR/<name>.json with the machine and version record."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    report = {"benchmark": name, "size": SIZE, "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": machine_info(), "versions": versions()}
    report.update(data)
    path = os.path.join(RESULTS_DIR, f"{name}.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    log(f"results in {path}")
    return path


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(headers, rows, out=sys.stdout):
    cells = [[str(h) for h in headers]] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for i, r in enumerate(cells):
        print("  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))), file=out)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=out)
    out.flush()


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
