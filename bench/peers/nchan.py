#!/usr/bin/env python3
"""nginx + nchan, the WebSocket fan-out peer, on a loopback port.

Owns: rendering bench/peers/nchan.conf.in into a private temporary directory (pid,
logs, temp paths), starting nginx as one process (`daemon off; master_process off;`),
optionally pinned to a CPU, waiting until it answers, and stopping it. The returned pid
is the process that serves connections, so it is what to sample for CPU and RSS.

    from bench.peers.nchan import NchanServer   # or import via sys.path
    with NchanServer(cpu=0) as srv:
        print(srv.port, srv.pid, srv.sub_url, srv.pub_url)

Command line: `python3 bench/peers/nchan.py [--port N] [--cpu C]` starts it, prints
`pid=<pid> port=<port>` and runs until SIGINT/SIGTERM.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests"))
from support.ports import free_port  # noqa: E402  (the one free_port of tests and benchmarks)

TEMPLATE = os.path.join(HERE, "nchan.conf.in")
MODULE_PATHS = ["/usr/lib/nginx/modules/ngx_nchan_module.so"]
MODULE_CONF = "/usr/share/nginx/modules-available/mod-nchan.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nofile_hard():
    try:
        import resource
        return resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    except Exception:
        return 20000


def load_module_line():
    for path in MODULE_PATHS:
        if os.path.exists(path):
            return f"load_module {path};"
    if os.path.exists(MODULE_CONF):
        with open(MODULE_CONF) as f:
            line = f.read().strip()
        # the Debian snippet names the module relative to nginx's prefix
        return line.replace("modules/", "/usr/lib/nginx/modules/", 1) if "load_module modules/" in line else line
    raise FileNotFoundError("nchan module not found: apt-get install nginx libnginx-mod-nchan")


def available():
    """True when nginx and the nchan module are installed."""
    try:
        load_module_line()
    except FileNotFoundError:
        return False
    return os.path.exists(NGINX)


class NchanServer:
    def __init__(self, port=None, cpu=None, worker_connections=None, workdir=None):
        self.port = port or free_port()
        self.cpu = cpu
        hard = nofile_hard()
        self.nofile = hard if hard and hard > 0 else 20000
        # nchan uses connection slots without a file descriptor (about one per 16
        # subscribers), so allow more slots than descriptors
        self.worker_connections = worker_connections or 2 * self.nofile
        self.workdir = workdir
        self._own_workdir = workdir is None
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def sub_url(self):
        return f"ws://127.0.0.1:{self.port}/sub/{{channel}}"

    @property
    def pub_url(self):
        return f"http://127.0.0.1:{self.port}/pub/{{channel}}"

    def render(self):
        with open(TEMPLATE) as f:
            text = f.read()
        values = {
            "@PREFIX@": self.workdir,
            "@PORT@": str(self.port),
            "@LOAD_MODULE@": load_module_line(),
            "@WORKER_CONNECTIONS@": str(self.worker_connections),
            "@NOFILE@": str(self.nofile),
        }
        for k, v in values.items():
            text = text.replace(k, v)
        path = os.path.join(self.workdir, "nginx.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, timeout=15.0):
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="rt_nchan_")
        os.makedirs(self.workdir, exist_ok=True)
        conf = self.render()
        cpu = self.cpu

        def preexec():
            os.setsid()  # own process group: a stray signal to the caller's group misses it
            if cpu is not None:
                os.sched_setaffinity(0, {int(cpu)})
            try:
                import resource
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            except Exception:
                pass

        log = open(os.path.join(self.workdir, "stderr.log"), "wb")
        self.proc = subprocess.Popen(
            [NGINX, "-p", self.workdir, "-e", os.path.join(self.workdir, "error.log"), "-c", conf],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=preexec)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {self.logs()}")
            if self._healthy():
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"nginx+nchan did not answer on port {self.port}: {self.logs()}")

    def _healthy(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def logs(self):
        out = []
        for name in ("stderr.log", "error.log"):
            p = os.path.join(self.workdir or "", name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out.append(f.read()[-2000:])
        return "\n".join(out)

    def stop(self, timeout=10.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._own_workdir and self.workdir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--cpu", type=int, default=None, help="pin nginx to this CPU")
    args = ap.parse_args()
    srv = NchanServer(port=args.port, cpu=args.cpu).start()
    print(f"pid={srv.pid} port={srv.port}", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    try:
        while not stop and srv.proc.poll() is None:
            time.sleep(0.2)
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
