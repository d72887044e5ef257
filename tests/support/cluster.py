"""Several relays in a ZeroMQ mesh on loopback, for the cluster tests.

`start_cluster(relay_factory, ["a", "b", "c"], ...)` gives every relay a free cluster
port and the others' endpoints as --peers (a full mesh), starts them together and waits
until every one sees every other as up; with keys_dir, each node gets a CURVE key pair
made there by `realtime-relay keygen` and its peers' public keys (endpoint@key). The relays belong to relay_factory, so they are
stopped when the test ends. Helpers here poll /api/health with deadlines.
"""
import asyncio
import itertools
import os
import subprocess
import threading
import time

from .pg import wait_until
from .ports import endpoint, free_port
from .relay import RELAY_BIN

FAST = ["--heartbeat-ms", "200", "--peer-down-ms", "1000"]  # quick failure detection


class Cluster:
    def __init__(self, relays, mesh_ports):
        self.relays = relays            # node id -> Relay
        self.mesh_ports = mesh_ports    # node id -> cluster port
        self.keys = {}                  # node id -> (secret key file, public key) when keyed

    def __getitem__(self, node):
        return self.relays[node]

    def __iter__(self):
        return iter(self.relays.values())

    def endpoint(self, node):
        return endpoint(self.mesh_ports[node])

    def alive(self):
        return [r for r in self.relays.values() if r.alive()]

    def wait_mesh(self, timeout=30, nodes=None):
        """Every live relay (or those named) sees every other one as up."""
        wait_mesh([self.relays[n] for n in nodes] if nodes else self.alive(), timeout)

    def holder(self, timeout=30, among=None):
        """The one relay that streams the slot (waits until exactly one says so)."""
        return wait_holder(among or self.alive(), timeout)


def mesh_layout(names):
    """A full mesh of the nodes names on loopback: ({name: cluster port}, {name: the
    other nodes' endpoints})."""
    ports = {n: free_port() for n in names}
    return ports, {n: [endpoint(ports[m]) for m in names if m != n] for n in names}


def keygen(keys_dir, name):
    """`realtime-relay keygen` in keys_dir: (path of name's secret key file, its public key)."""
    out = subprocess.run([RELAY_BIN, "keygen", "--out", str(keys_dir), "--name", name],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return os.path.join(str(keys_dir), name + ".key"), out.stdout.strip()


def keyed_layout(names, keys_dir):
    """mesh_layout with a key pair per node: ({name: port}, {name: the others'
    endpoint@key}, {name: (secret key file, public key)})."""
    ports, _ = mesh_layout(names)
    keys = {n: keygen(keys_dir, n) for n in names}
    return ports, {n: [f"{endpoint(ports[m])}@{keys[m][1]}" for m in names if m != n] for n in names}, keys


def start_cluster(relay_factory, names=("a", "b", "c"), db_dsn=None, args=(), node_args=None, slot=None,
                  replication=True, full_mesh=True, wait=True, keys_dir=None):
    """Starts one relay per name in a full mesh. args go to every relay, node_args[name]
    to one; slot names the replication slot (slots are per Postgres server, so tests use
    their own); replication=False adds --no-replication everywhere; keys_dir: a CURVE
    key pair per node, made there."""
    node_args = node_args or {}
    ports, peers, keys = keyed_layout(names, keys_dir) if keys_dir else mesh_layout(names) + ({},)
    relays = {}
    for n in names:
        extra = ["--no-replication"] if db_dsn and not replication else []
        if keys_dir:
            extra += ["--cluster-key", keys[n][0]]
        relays[n] = relay_factory(start=False, db_dsn=db_dsn, node_id=n, cluster_port=ports[n],
                                  peers=peers[n] if full_mesh else (), slot=slot,
                                  args=extra + list(args) + list(node_args.get(n, [])))
    cluster = Cluster(relays, ports)
    cluster.keys = keys
    for r in relays.values():
        r.start(wait=False)
    for r in relays.values():
        r.wait_healthy()
    if wait and full_mesh:
        cluster.wait_mesh()
    return cluster


def peers(relay):
    """{node_id: peer dict} from the relay's /api/health."""
    h = relay.health()
    return {p["node_id"]: p for p in h["peers"]} if h else {}


def peer_state(relay, node):
    p = peers(relay).get(node)
    return p["state"] if p else None


def wait_mesh(relays, timeout=30):
    def meshed():
        for r, other in itertools.permutations(relays, 2):
            if peer_state(r, other.node_id) != "up":
                return False
        return True
    wait_until(meshed, timeout=timeout, what="every relay to see every other as up: "
               + ", ".join(r.node_id for r in relays))


def wait_peer_state(relay, node, state, timeout=30):
    wait_until(lambda: peer_state(relay, node) == state, timeout=timeout,
               what=f"{relay.node_id} to see {node} {state}")


def holders(relays):
    out = []
    for r in relays:
        if not r.alive():
            continue
        h = r.health()
        if h and h["slot_holder"]:
            out.append(r)
    return out


def wait_holder(relays, timeout=30, exclude=()):
    """The relay holding the slot, once exactly one of relays says it does."""
    def one():
        hs = [r for r in holders(relays) if r.node_id not in exclude]
        return hs[0] if len(hs) == 1 else None
    return wait_until(one, timeout=timeout, what="exactly one relay to hold the slot among "
                      + ", ".join(r.node_id for r in relays))


async def warm_up(sender, topic, receivers, timeout=20):
    """Broadcasts probes on topic from sender until every receiver has one: then each
    receiving node's subscription to the channel has reached the sender's node (ZeroMQ
    forwards SUB subscriptions asynchronously, so a join's reply does not mean the
    channel's messages from other nodes already flow). Probes are event "__probe"."""
    deadline = time.monotonic() + timeout
    waiting = list(receivers)
    n = 0
    while waiting:
        if time.monotonic() > deadline:
            raise TimeoutError(f"probes on {topic} did not reach {len(waiting)} receivers within {timeout}s")
        n += 1
        await sender.broadcast(topic, "__probe", {"n": n})
        still = []
        for c in waiting:
            try:
                await c.expect_event(topic, "broadcast", timeout=0.2,
                                     where=lambda p: p["event"] == "__probe")
            except TimeoutError:
                still.append(c)
        waiting = still
    # Later probes may still be in flight: let them land, then forget every probe.
    await asyncio.sleep(0.3)
    for c in receivers:
        await drain(c)
        c.inbox = [m for m in c.inbox if not is_probe(m)]


def is_probe(m):
    return m["event"] == "broadcast" and isinstance(m["payload"], dict) and m["payload"].get("event") == "__probe"


async def drain(client, quiet=0.05):
    """Moves whatever has arrived on client's socket into its inbox."""
    while True:
        try:
            frame = await asyncio.wait_for(client.ws.recv(), quiet)
        except asyncio.TimeoutError:
            return
        client.inbox.append(client.decode(frame))


# -- Postgres changes under load ---------------------------------------------------------

async def subscribe_changes(relay, table="items", vsn="1.0.0", topic=None, token=None, timeout=30):
    """A client of relay joined to a channel with a postgres_changes binding on table
    (all events), once "Subscribed to PostgreSQL" came. Returns (client, topic, id)."""
    from .phoenix import PhoenixClient, join_config, unique_topic
    c = await PhoenixClient.open(relay, vsn, token=token)
    topic = topic or unique_topic("db")
    binding = {"event": "*", "schema": "public", "table": table}
    reply = await c.join(topic, join_config(changes=[binding]), timeout=timeout)
    assert reply["status"] == "ok", reply
    [echo] = reply["response"]["postgres_changes"]
    msg = await c.expect_event(topic, "system", timeout=timeout)
    assert msg["payload"]["status"] == "ok" and msg["payload"]["message"] == "Subscribed to PostgreSQL", msg
    return c, topic, echo["id"]


class Collector:
    """Reads a client's socket in the background and records the id of every row change
    delivered on topic, with its arrival time (duplicates included), which of them were
    marked "recovered", and the system messages in their place among them."""

    def __init__(self, client, topic, name=""):
        self.client, self.topic, self.name = client, topic, name
        self.received = []  # (row id, monotonic time)
        self.recovered = []  # row ids marked recovered, in arrival order
        self.systems = []  # (index in received when it came, payload)
        self.closed = False
        self.task = asyncio.ensure_future(self._run())

    async def _run(self):
        import websockets
        while True:
            try:
                msg = await self.client.recv(timeout=1)
            except asyncio.TimeoutError:
                continue
            except websockets.ConnectionClosed:
                self.closed = True
                return
            if msg["topic"] == self.topic and msg["event"] == "postgres_changes":
                record = msg["payload"]["data"].get("record") or msg["payload"]["data"].get("old_record")
                self.received.append((record["id"], time.monotonic()))
                if msg["payload"].get("recovered"):
                    self.recovered.append(record["id"])
            elif msg["topic"] == self.topic and msg["event"] == "system":
                self.systems.append((len(self.received), msg["payload"]))

    def ids(self):
        return [i for i, _ in self.received]

    async def wait_for(self, wanted, timeout=30):
        """Waits until every id in wanted has arrived."""
        wanted = set(wanted)
        deadline = time.monotonic() + timeout
        while not wanted <= set(self.ids()):
            if self.task.done():
                raise AssertionError(f"{self.name}: the connection closed with "
                                     f"{len(wanted - set(self.ids()))} rows missing")
            if time.monotonic() > deadline:
                missing = sorted(wanted - set(self.ids()))
                raise AssertionError(f"{self.name}: {len(missing)} of {len(wanted)} rows never arrived, "
                                     f"e.g. {missing[:10]}")
            await asyncio.sleep(0.05)

    async def stop(self):
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, Exception):
            pass


async def collectors(relays):
    """{node id: Collector} of a new postgres_changes client on each relay."""
    cols = {}
    for r in relays:
        c, topic, _ = await subscribe_changes(r)
        cols[r.node_id] = Collector(c, topic, r.node_id)
    return cols


async def all_received(cols, committed, timeout=60):
    """Waits until every Collector of cols has every id of committed, stops them, and
    says what each got ("a: 998 unique of 1003, ...")."""
    for col in cols.values():
        await col.wait_for(committed, timeout=timeout)
    for col in cols.values():
        await col.stop()
    return ", ".join(f"{n}: {len(set(c.ids()))} unique of {len(c.ids())}" for n, c in cols.items())


class Inserter(threading.Thread):
    """Inserts `rows` rows (one transaction) into table every period seconds on its own
    connection, recording (id, commit time) of each committed row. Database errors (a
    restart) are counted and retried on a new connection; a commit whose outcome is
    unknown is not recorded, so compare with the table itself after such errors."""

    def __init__(self, dsn, table="items", period=0.015, rows=1):
        super().__init__(daemon=True)
        self.dsn, self.table, self.period, self.rows = dsn, table, period, rows
        self.committed = []
        self.errors = 0
        self._halt = threading.Event()

    def run(self):
        import psycopg2
        conn = None
        while not self._halt.is_set():
            try:
                if conn is None:
                    conn = psycopg2.connect(self.dsn, connect_timeout=3)
                    conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f"INSERT INTO {self.table} (note) SELECT 'x' FROM generate_series(1, %s) "
                                "RETURNING id", (self.rows,))
                    rids = sorted(r[0] for r in cur.fetchall())
                t = time.monotonic()
                self.committed.extend((rid, t) for rid in rids)
            except psycopg2.Error:
                self.errors += 1
                try:
                    conn and conn.close()
                except Exception:
                    pass
                conn = None
                self._halt.wait(0.1)
                continue
            self._halt.wait(self.period)
        if conn is not None:
            conn.close()

    def ids(self):
        return [i for i, _ in self.committed]

    def stop(self):
        self._halt.set()
        self.join(timeout=30)
