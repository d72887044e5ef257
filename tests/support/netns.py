"""Relays in network namespaces, for partition tests (no traffic leaves the machine).

Topology: a bridge in the test's own namespace (10.77.N.1/24) and, per relay, a namespace
joined to the bridge by a veth pair (10.77.N.(10+i)). The relay listens on its address,
so the test reaches it through the bridge; setting the bridge side of a relay's veth down
cuts that relay off from every other one (and from the test) until it is set up again.
Postgres listens on the test's loopback only, so these relays run without a database.

`Topology.create()` raises NamespacesUnavailable when the machine does not allow it
(not root, no CAP_NET_ADMIN / CAP_SYS_ADMIN, no `ip`): callers skip.
"""
import os
import shutil
import subprocess

from .relay import Relay


class NamespacesUnavailable(Exception):
    pass


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


class Topology:
    def __init__(self, count):
        tag = f"{os.getpid() % 10000:04d}"
        self.subnet = 100 + os.getpid() % 100  # 10.77.<subnet>.0/24
        self.bridge = f"rtbr{tag}"
        self.nodes = [{"ns": f"rtns{tag}{i}", "outer": f"rtv{tag}{i}o", "inner": f"rtv{tag}{i}i",
                       "addr": f"10.77.{self.subnet}.{10 + i}"} for i in range(count)]
        self.created = []

    def create(self):
        if os.geteuid() != 0 or not shutil.which("ip"):
            raise NamespacesUnavailable("network namespaces need root and iproute2")
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            self.created.append(("link", self.bridge))
            _ip("addr", "add", f"10.77.{self.subnet}.1/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for n in self.nodes:
                _ip("netns", "add", n["ns"])
                self.created.append(("netns", n["ns"]))
                _ip("link", "add", n["outer"], "type", "veth", "peer", "name", n["inner"])
                self.created.append(("link", n["outer"]))
                _ip("link", "set", n["outer"], "master", self.bridge, "up")
                _ip("link", "set", n["inner"], "netns", n["ns"])
                _ip("netns", "exec", n["ns"], "ip", "addr", "add", n["addr"] + "/24", "dev", n["inner"])
                _ip("netns", "exec", n["ns"], "ip", "link", "set", n["inner"], "up")
                _ip("netns", "exec", n["ns"], "ip", "link", "set", "lo", "up")
        except subprocess.CalledProcessError as e:
            self.destroy()
            raise NamespacesUnavailable(f"`{' '.join(e.cmd)}` failed: {e.stderr.strip()}")
        return self

    def destroy(self):
        for kind, name in reversed(self.created):
            if kind == "netns":
                _ip("netns", "delete", name, check=False)
            else:
                _ip("link", "delete", name, check=False)
        self.created = []

    def cut(self, i):
        """Cuts node i off from the others and from the test."""
        _ip("link", "set", self.nodes[i]["outer"], "down")

    def heal(self, i):
        _ip("link", "set", self.nodes[i]["outer"], "master", self.bridge, "up")


class NsRelay(Relay):
    """A relay started inside a network namespace, listening on that namespace's address."""

    http_timeout = 3  # a request to a cut-off node must not hold the test long

    def __init__(self, ns, host, **kwargs):
        self.ns, self.host = ns, host
        super().__init__(**kwargs)

    def command(self):
        return ["ip", "netns", "exec", self.ns] + super().command()
