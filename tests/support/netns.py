"""Relays in network namespaces, for partition tests (no traffic leaves the machine).

Topology: a bridge in the test's own namespace (10.77.N.1/24) and, per relay, a namespace
joined to the bridge by a veth pair (10.77.N.(10+i)). The relay listens on its address,
so the test reaches it through the bridge; setting the bridge side of a relay's veth down
cuts that relay off from every other one (and from the test) until it is set up again.
Postgres listens on the test's loopback only, so these relays run without a database,
unless the test forwards it onto the bridge (`forward_db`).

With mesh=True each relay gets a second veth pair on a second bridge (10.78.N.(10+i),
`mesh_addr`) for the cluster mesh alone: `cut_mesh(i)` partitions its mesh while its
clients and its database still reach it (a holder cut off from its peers, not from
Postgres; a client that measures what the relay delivers, not its own reconnection).

`Topology.create()` raises NamespacesUnavailable when the machine does not allow it
(not root, no CAP_NET_ADMIN / CAP_SYS_ADMIN, no `ip`): callers skip.
"""
import os
import shutil
import subprocess

from .cut_proxy import CutProxy
from .relay import Relay


class NamespacesUnavailable(Exception):
    pass


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


class Topology:
    def __init__(self, count, mesh=False):
        tag = f"{os.getpid() % 10000:04d}"
        self.subnet = 100 + os.getpid() % 100  # 10.77.<subnet>.0/24 (10.78. for the mesh)
        self.bridge = f"rtbr{tag}"
        self.mesh_bridge = f"rtmb{tag}" if mesh else None
        self.nodes = [{"ns": f"rtns{tag}{i}", "outer": f"rtv{tag}{i}o", "inner": f"rtv{tag}{i}i",
                       "addr": f"10.77.{self.subnet}.{10 + i}",
                       "mesh_outer": f"rtm{tag}{i}o", "mesh_inner": f"rtm{tag}{i}i",
                       "mesh_addr": f"10.78.{self.subnet}.{10 + i}" if mesh else None} for i in range(count)]
        self.created = []
        self.forwarders = []

    def create(self):
        if os.geteuid() != 0 or not shutil.which("ip"):
            raise NamespacesUnavailable("network namespaces need root and iproute2")
        try:
            self._bridge(self.bridge, f"10.77.{self.subnet}.1/24")
            if self.mesh_bridge:
                self._bridge(self.mesh_bridge, f"10.78.{self.subnet}.1/24")
            for n in self.nodes:
                _ip("netns", "add", n["ns"])
                self.created.append(("netns", n["ns"]))
                self._veth(n, n["outer"], n["inner"], n["addr"], self.bridge)
                if self.mesh_bridge:
                    self._veth(n, n["mesh_outer"], n["mesh_inner"], n["mesh_addr"], self.mesh_bridge)
                _ip("netns", "exec", n["ns"], "ip", "link", "set", "lo", "up")
        except subprocess.CalledProcessError as e:
            self.destroy()
            raise NamespacesUnavailable(f"`{' '.join(e.cmd)}` failed: {e.stderr.strip()}")
        return self

    def _bridge(self, name, cidr):
        _ip("link", "add", name, "type", "bridge")
        self.created.append(("link", name))
        _ip("addr", "add", cidr, "dev", name)
        _ip("link", "set", name, "up")

    def _veth(self, n, outer, inner, addr, bridge):
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        self.created.append(("link", outer))
        _ip("link", "set", outer, "master", bridge, "up")
        _ip("link", "set", inner, "netns", n["ns"])
        _ip("netns", "exec", n["ns"], "ip", "addr", "add", addr + "/24", "dev", inner)
        _ip("netns", "exec", n["ns"], "ip", "link", "set", inner, "up")

    def forward_db(self, pg_port):
        """A DSN host/port on the bridge that reaches the test's Postgres (a forwarder)."""
        fwd = CutProxy(pg_port, listen_host=f"10.77.{self.subnet}.1")
        self.forwarders.append(fwd)
        return f"10.77.{self.subnet}.1", fwd.port

    def destroy(self):
        for fwd in self.forwarders:
            fwd.close()
        self.forwarders = []
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

    def cut_mesh(self, i):
        """Cuts node i's mesh off from the other nodes' (its clients and database still reach it)."""
        _ip("link", "set", self.nodes[i]["mesh_outer"], "down")

    def heal_mesh(self, i):
        _ip("link", "set", self.nodes[i]["mesh_outer"], "master", self.mesh_bridge, "up")


class NsRelay(Relay):
    """A relay started inside a network namespace, listening on that namespace's address."""

    http_timeout = 3  # a request to a cut-off node must not hold the test long

    def __init__(self, ns, host, **kwargs):
        self.ns, self.host = ns, host
        super().__init__(**kwargs)

    def command(self):
        return ["ip", "netns", "exec", self.ns] + super().command()
