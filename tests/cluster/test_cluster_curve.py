"""The authenticated mesh (CURVE + ZAP): three relays with keys deliver broadcasts,
presence and changes as without; a SUB socket without keys (or with a key pair nobody
trusts) connected to a node's --cluster-bind receives nothing while a plain mesh's does;
a node whose key pair is not the one its peers know is refused both ways (its
broadcasts do not arrive, the others' do not reach it, /metrics counts the refusals);
a non-loopback bind without keys, keys for peers without this node's, a peer without a
key and a secret readable by others make the relay exit with a message naming the flag;
keygen writes a valid pair, the secret 0600, and never replaces a file."""
import os
import stat
import subprocess
import time

import zmq

from support.cluster import FAST, keygen, peer_state, start_cluster, subscribe_changes, wait_mesh, warm_up
from support.jwt import DEFAULT_SECRET
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run, unique_topic
from support.ports import endpoint, free_port
from support.relay import RELAY_BIN


def refused(relay):
    return relay.metrics().get("realtime_mesh_peers_refused_total", 0)


def handshakes_failed(relay):
    return relay.metrics().get("realtime_mesh_handshakes_failed_total", 0)


def sniff(endpoint_, seconds, curve_server_key=None):
    """Every message a SUB socket subscribed to everything gets from endpoint_ in seconds
    (with curve_server_key: as a CURVE client with a fresh key pair nobody trusts)."""
    ctx = zmq.Context()
    try:
        s = ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        if curve_server_key:
            public, secret = zmq.curve_keypair()
            s.curve_publickey, s.curve_secretkey = public, secret
            s.curve_serverkey = curve_server_key.encode()
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(endpoint_)
        got = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if s.poll(100):
                got.append(s.recv_multipart())
        return got
    finally:
        ctx.destroy(linger=0)


def test_keyed_cluster_delivers_broadcasts_presence_and_changes(relay_factory, items, slot, tmp_path):
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot, keys_dir=tmp_path)
    for n in "abc":
        assert "CURVE, public key " + cluster.keys[n][1] in cluster[n].log_text()
        # The registry carries each node's public key (peers found there are dialed with it).
        wait_until(lambda: db.scalar("SELECT public_key FROM realtime.nodes WHERE node_id = %s", (n,))
                   == cluster.keys[n][1], timeout=10, what=f"{n}'s public key in realtime.nodes")
    holder = cluster.holder()
    others = [r for r in cluster if r is not holder]

    async def body():
        topic = unique_topic()
        sender = await PhoenixClient.open(cluster["a"], "1.0.0")
        assert (await sender.join(topic, join_config(presence=True, key="alice")))["status"] == "ok"
        receivers = []
        for n in "bc":
            c = await PhoenixClient.open(cluster[n], "1.0.0")
            assert (await c.join(topic, join_config(presence=True, key=n)))["status"] == "ok"
            receivers.append(c)
        await warm_up(sender, topic, receivers)
        await sender.broadcast(topic, "hello", {"n": 1})
        for c in receivers:
            got = await c.expect_event(topic, "broadcast", where=lambda p: p["event"] == "hello")
            assert got["payload"]["payload"] == {"n": 1}
        assert (await sender.track(topic, {"name": "Alice"}))["status"] == "ok"
        for c in receivers:
            await c.expect_event(topic, "presence_diff", where=lambda p: "alice" in p["joins"])

        subs = [await subscribe_changes(r) for r in others]
        ids = [db.scalar("INSERT INTO items (note) VALUES (%s) RETURNING id", (f"k{i}",)) for i in range(10)]
        for c, t, sid in subs:
            got = [(await c.expect_event(t, "postgres_changes", timeout=15))["payload"]["data"]["record"]["id"]
                   for _ in ids]
            assert got == ids
        for c in [sender] + receivers + [s[0] for s in subs]:
            await c.close()
    run(body())
    for r in cluster:
        assert refused(r) == 0 and handshakes_failed(r) == 0, r.node_id


def test_nodes_found_in_the_registry_are_dialed_with_trusted_keys(relay_factory, items, tmp_path):
    # No --peers: the endpoints and keys come from realtime.nodes, the trust from the
    # directory of every node's .pub.
    db = items
    rogue_port, (rogue_public, _) = free_port(), zmq.curve_keypair()
    db.execute("INSERT INTO realtime.nodes (node_id, cluster_endpoint, public_key) VALUES ('rogue', %s, %s)",
               (endpoint(rogue_port), rogue_public.decode()))
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, replication=False, full_mesh=False,
                            keys_dir=tmp_path, args=["--cluster-peer-keys", str(tmp_path)])
    cluster.wait_mesh()
    wait_until(lambda: "does not trust" in cluster["a"].log_text(), timeout=10,
               what="a to log that it does not dial the registry's untrusted row")
    assert f"lists {endpoint(rogue_port)} with a public key this node does not trust" in cluster["a"].log_text()
    assert f"subscribing to peer {endpoint(rogue_port)}" not in cluster["a"].log_text()


def test_sniffing_sub_socket_gets_nothing_from_a_keyed_node(relay_factory, tmp_path):
    # The control: a plain loopback mesh gives a sniffer its heartbeats at once.
    plain = start_cluster(relay_factory, ["p", "q"], args=FAST)
    assert sniff(plain.endpoint("p"), 1.5), "a plain mesh's endpoint is readable by anybody"

    cluster = start_cluster(relay_factory, ["a", "b"], args=FAST, keys_dir=tmp_path)
    a = cluster["a"]

    async def traffic():
        topic = unique_topic()
        sender = await PhoenixClient.open(a, "1.0.0")
        assert (await sender.join(topic, join_config()))["status"] == "ok"
        member = await PhoenixClient.open(cluster["b"], "1.0.0")
        assert (await member.join(topic, join_config()))["status"] == "ok"
        await warm_up(sender, topic, [member])
        return sender, member, topic

    async def body():
        sender, member, topic = await traffic()
        before = refused(a)
        # Heartbeats every 200 ms and broadcasts flow meanwhile; neither sniffer gets one.
        assert sniff(cluster.endpoint("a"), 2.0) == []
        assert sniff(cluster.endpoint("a"), 2.0, curve_server_key=cluster.keys["a"][1]) == []
        await sender.broadcast(topic, "still", {"ok": True})
        await member.expect_event(topic, "broadcast", where=lambda p: p["event"] == "still")
        wait_until(lambda: refused(a) > before, timeout=5, what="a to count the untrusted key's refusal")
        assert handshakes_failed(a) >= 2  # the keyless sniffer and the refused one
        assert "refused a peer from" in a.log_text()
        await sender.close()
        await member.close()
    run(body())


def test_node_with_wrong_keys_is_refused(relay_factory, tmp_path):
    # a, b and c know x by the key pair made for it; the x that runs has another one.
    names = ["a", "b", "c", "x"]
    ports = {n: free_port() for n in names}
    keys = {n: keygen(tmp_path, n) for n in names}
    impostor_key, _ = keygen(tmp_path / "impostor", "x")
    relays = {}
    for n in names:
        peers = [f"{endpoint(ports[m])}@{keys[m][1]}" for m in names if m != n]
        key = impostor_key if n == "x" else keys[n][0]
        relays[n] = relay_factory(start=False, node_id=n, cluster_port=ports[n], peers=peers,
                                  args=FAST + ["--cluster-key", key])
    for r in relays.values():
        r.start(wait=False)
    for r in relays.values():
        r.wait_healthy()
    a, b, x = relays["a"], relays["b"], relays["x"]
    wait_mesh([relays[n] for n in "abc"])
    wait_until(lambda: refused(a) > 0 and refused(b) > 0, timeout=10, what="a and b to refuse x's key")
    wait_until(lambda: handshakes_failed(x) > 0, timeout=10, what="x to fail the handshakes of a, b, c")

    async def body():
        topic = unique_topic()
        on_a = await PhoenixClient.open(a, "1.0.0")
        assert (await on_a.join(topic, join_config()))["status"] == "ok"
        on_b = await PhoenixClient.open(b, "1.0.0")
        assert (await on_b.join(topic, join_config()))["status"] == "ok"
        on_x = await PhoenixClient.open(x, "1.0.0")
        assert (await on_x.join(topic, join_config()))["status"] == "ok"
        await warm_up(on_a, topic, [on_b])
        for i in range(10):
            await on_a.broadcast(topic, "from-a", {"i": i})
            await on_x.broadcast(topic, "from-x", {"i": i})
        await on_b.expect_event(topic, "broadcast", where=lambda p: p["event"] == "from-a" and p["payload"]["i"] == 9)
        await on_x.assert_silent(1.0, lambda m: m["event"] == "broadcast")
        await on_a.assert_silent(0.5, lambda m: m["event"] == "broadcast" and m["payload"]["event"] == "from-x")
        assert not [m for m in on_b.inbox if m["event"] == "broadcast" and m["payload"]["event"] == "from-x"]
        for c in (on_a, on_b, on_x):
            await c.close()
    run(body())
    for n in "abc":
        assert peer_state(relays[n], "x") != "up"
    assert [p for p in x.health()["peers"] if p["state"] == "up"] == []
    assert "CURVE handshake with peer" in x.log_text() or "CURVE handshake with peer" in a.log_text()


def relay_exit(args, timeout=20):
    """Runs the relay with args; (exit code, stderr) once it exits (it must, by itself)."""
    cmd = [RELAY_BIN, "--listen", f"127.0.0.1:{free_port()}", "--jwt-secret", DEFAULT_SECRET] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def test_unkeyed_or_misconfigured_mesh_refuses_to_start(tmp_path):
    code, err = relay_exit(["--cluster-bind", f"tcp://0.0.0.0:{free_port()}"])
    assert code != 0 and "--cluster-key FILE" in err and "reachable from other machines" in err, err
    code, err = relay_exit(["--cluster-bind", f"tcp://*:{free_port()}"])
    assert code != 0 and "--cluster-key" in err, err

    secret, public = keygen(tmp_path, "a")
    peer = f"tcp://127.0.0.1:{free_port()}"
    code, err = relay_exit(["--cluster-bind", endpoint(free_port()), "--peers", f"{peer}@{public}"])
    assert code != 0 and "add --cluster-key FILE" in err, err
    code, err = relay_exit(["--cluster-bind", endpoint(free_port()), "--cluster-key", secret, "--peers", peer])
    assert code != 0 and f"--peers {peer} has no public key" in err, err
    code, err = relay_exit(["--cluster-bind", endpoint(free_port()), "--cluster-key", secret,
                            "--peers", f"{peer}@tooshort"])
    assert code != 0 and "not a CURVE key" in err, err
    os.chmod(secret, 0o640)
    code, err = relay_exit(["--cluster-bind", endpoint(free_port()), "--cluster-key", secret])
    assert code != 0 and f"chmod 600 {secret}" in err, err
    other, _ = keygen(tmp_path, "b")
    code, err = relay_exit(["--cluster-bind", endpoint(free_port()), "--cluster-key", other,
                            "--cluster-peer-keys", str(tmp_path / "missing")])
    assert code != 0 and "--cluster-peer-keys" in err, err


def test_non_loopback_bind_with_keys_starts(relay_factory, tmp_path):
    secret, _ = keygen(tmp_path, "a")
    r = relay_factory(start=False, node_id="a", args=["--cluster-bind", f"tcp://0.0.0.0:{free_port()}",
                                                       "--cluster-key", secret, "--cluster-peer-keys", str(tmp_path)])
    r.start()
    assert "CURVE, public key" in r.log_text()


def test_keygen_writes_a_valid_pair_secret_0600(tmp_path):
    secret_path, public = keygen(tmp_path / "keys", "node-1")
    public_path = tmp_path / "keys" / "node-1.pub"
    assert stat.S_IMODE(os.stat(secret_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700
    [secret] = [l for l in open(secret_path).read().splitlines() if l and not l.startswith("# ")]
    [pub] = [l for l in public_path.read_text().splitlines() if l and not l.startswith("# ")]
    assert pub == public and len(pub) == 40 and len(secret) == 40
    assert zmq.curve_public(secret.encode()).decode() == pub
    _, other = keygen(tmp_path / "keys", "node-2")
    assert other != public
    # Never replaced: a second keygen with the same name fails and leaves the pair.
    p = subprocess.run([RELAY_BIN, "keygen", "--out", str(tmp_path / "keys"), "--name", "node-1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "File exists" in p.stderr
    assert zmq.curve_public(open(secret_path).read().splitlines()[1].encode()).decode() == public
    p = subprocess.run([RELAY_BIN, "keygen"], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "--out DIR is required" in p.stderr
