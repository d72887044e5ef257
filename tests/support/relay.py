"""The one launcher of realtime-relay processes, for the tests and the benchmarks: the
command line (port, node id, secret, database, cluster endpoint and peers, slot, log
level), starting (while a build may be rewriting the binary), waiting until healthy or
holding the slot, stopping, logs, and access (URLs, HTTP, health, metrics).

Tests get relays from the `relay_factory` fixture, which stops each at the end of its
test (killed if it does not exit), so no test leaves a server running. The benchmarks
subclass Relay (bench/common.py) to pin it to a core in its own process group.
"""
import base64
import http.client
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from .jwt import DEFAULT_SECRET, make_token
from .pg import wait_until
from .ports import endpoint, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELAY_BIN = os.environ.get("REALTIME_RELAY_BIN", os.path.join(ROOT, "build", "realtime-relay"))


class Relay:
    host = "127.0.0.1"  # where it listens and where tests reach it
    http_timeout = 10   # seconds an HTTP request to it may take

    def __init__(self, db_dsn=None, node_id=None, secret=DEFAULT_SECRET, args=(), port=None, env=None,
                 cluster_port=None, peers=(), slot=None, log_level=None):
        self.port = port or free_port()
        self.secret = secret
        self.node_id = node_id or f"node-{self.port}"
        self.db_dsn = db_dsn
        self.args = list(args)
        self.env = env or {}
        self.cluster_port = cluster_port  # --cluster-bind on loopback
        self.peers = list(peers)          # --peers endpoints
        self.slot = slot
        self.log_level = log_level
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"relay-{self.node_id}-", suffix=".log", delete=False)
        self.log.close()

    # -- lifecycle -------------------------------------------------------------------
    def command(self):
        cmd = [RELAY_BIN, "--listen", f"{self.host}:{self.port}", "--node-id", self.node_id]
        if self.secret:  # None: the relay's keys come from --jwt-jwks in args
            cmd += ["--jwt-secret", self.secret]
        if self.db_dsn:
            cmd += ["--db", self.db_dsn]
        if self.slot:
            cmd += ["--slot", self.slot]
        if self.cluster_port:
            cmd += ["--cluster-bind", endpoint(self.cluster_port)]
        if self.peers:
            cmd += ["--peers", ",".join(self.peers)]
        if self.log_level:
            cmd += ["--log-level", self.log_level]
        return cmd + self.args

    def spawn(self, cmd, logf, env):
        """Starts the process (the benchmarks pin it to a core in its own group)."""
        return subprocess.Popen(cmd, stdout=logf, stderr=logf, env=env)

    def start(self, wait=True):
        logf = open(self.log.name, "a")
        env = dict(os.environ)
        env.update(self.env)
        started = time.monotonic()
        while True:
            try:
                self.proc = self.spawn(self.command(), logf, env)
                break
            except OSError as exc:
                # A build running meanwhile is rewriting the binary (missing for a moment,
                # then EACCES or ETXTBSY while the linker writes it): wait for it.
                waited = time.monotonic() - started
                if waited > (5 if isinstance(exc, FileNotFoundError) else 60):
                    logf.close()
                    raise
                time.sleep(0.5)
        logf.close()
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout=30):
        wait_until(self._healthy, timeout=timeout, what=f"relay {self.node_id} to answer /api/health")
        return self

    def wait_slot(self, timeout=30):
        """Waits until this relay streams the replication slot (health slot_holder)."""
        wait_until(lambda: self._healthy() and self.health()["slot_holder"], timeout=timeout,
                   what=f"relay {self.node_id} to hold the replication slot")
        return self

    def _healthy(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"relay exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
        try:
            return self.health() is not None
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def stop(self, timeout=15):
        """SIGTERM (graceful shutdown), then SIGKILL if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"relay {self.node_id} did not stop within {timeout}s after SIGTERM")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def rss_kb(self):
        """Resident memory of the relay process, in KiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def remove_log(self):
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    def log_text(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def log_tail(self, n=3000):
        try:
            return self.log_text()[-n:]
        except OSError:
            return ""

    # -- access ----------------------------------------------------------------------
    def token(self, **kwargs):
        return make_token(self.secret, **kwargs)

    def ws_endpoint(self, path="/socket/websocket"):
        """The WebSocket endpoint without a query (clients add their apikey and vsn)."""
        return f"ws://{self.host}:{self.port}{path}"

    def url(self, token=None, vsn="1.0.0", path="/socket/websocket"):
        token = token if token is not None else self.token()
        query = f"apikey={token}" if token else ""
        if vsn:
            query += ("&" if query else "") + f"vsn={vsn}"
        return f"{self.ws_endpoint(path)}?{query}"

    def http(self, path, method="GET", body=None, headers=None):
        """(status, parsed JSON or text) of an HTTP request to the relay."""
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        req = urllib.request.Request(f"http://{self.host}:{self.port}{path}", data=data, method=method,
                                     headers=headers or {})
        if data is not None and not any(k.lower() == "content-type" for k in (headers or {})):
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.http_timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def upgrade(self, query, path="/socket/websocket", headers=None, with_headers=False):
        """(status, parsed JSON body) of a WebSocket upgrade request: what a client that
        is refused at connect reads (and the response headers, lower-cased, with_headers)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", f"{path}?{query}" if query else path, headers={
                "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), **(headers or {})})
            resp = conn.getresponse()
            raw = resp.read() if resp.status != 101 else b""
        finally:
            conn.close()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        if with_headers:
            return resp.status, body, {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, body

    def health(self):
        status, body = self.http("/api/health")
        return body if status == 200 else None

    def metrics(self):
        """Prometheus text parsed into {name: value} (unlabelled samples only)."""
        _, text = self.http("/metrics")
        values = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
        return values

    def broadcast_http(self, messages, token=None):
        token = token or self.token()
        return self.http("/api/broadcast", "POST", {"messages": messages},
                         {"Authorization": f"Bearer {token}"})
