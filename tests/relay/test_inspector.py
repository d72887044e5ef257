"""The inspector's endpoints on one relay (docs/inspector.md): GET /inspector serves the
page (built into the binary) to anybody, its JSON endpoints answer 401 without the admin
credential (the anon key, a client JWT or a wrong token are not one), and with it give
the node, the busiest channels, a channel's members and presence, and the per-second
feed; bad admin settings are refused at startup."""
import asyncio
import subprocess
import urllib.parse

import pytest

from support.phoenix import PhoenixClient, join_config, run, unique_topic
from support.pg import wait_until
from support.ports import free_port
from support.relay import RELAY_BIN

ADMIN = "inspector-test-admin-token-0123456789"
ADMIN_ARGS = ["--admin-token", ADMIN, "--admin-role", "service_role"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def inspect(relay, what, token=ADMIN, **args):
    q = urllib.parse.urlencode(args)
    return relay.http(f"/api/inspector/{what}" + (f"?{q}" if q else ""), headers=bearer(token) if token else {})


@pytest.fixture
def admin_relay(relay_factory):
    return relay_factory(args=ADMIN_ARGS)


def test_page_is_served_and_endpoints_refuse_without_the_credential(admin_relay):
    r = admin_relay
    status, page = r.http("/inspector")
    assert status == 200 and "<title>pg_realtime inspector</title>" in page
    for asset in ("app.js", "phoenix.js", "charts.js", "inspector.css"):
        assert r.http(f"/inspector/{asset}")[0] == 200, asset
    assert r.http("/inspector/nothing.js")[0] == 404
    anon = r.token()
    for token in (None, anon, r.token(role="authenticated"), ADMIN[:-1], ADMIN + "x", "Basic " + ADMIN):
        for what in ("snapshot", "feed", "channels", "channel"):
            status, body = inspect(r, what, token=token, topic="x")
            assert status == 401, (what, token, body)
    # The anon key as an apikey header is not a credential either.
    status, _ = r.http("/api/inspector/snapshot", headers={"apikey": anon})
    assert status == 401
    assert inspect(r, "snapshot")[0] == 200
    assert inspect(r, "snapshot", token=r.token(role="service_role"))[0] == 200
    assert inspect(r, "snapshot", token=r.token(role="service_role", exp_in=-10))[0] == 401


def test_without_admin_flags_the_inspector_is_off(relay):
    status, body = inspect(relay, "snapshot", token=relay.token(role="service_role"))
    assert status == 401 and "--admin-token" in body["message"]


def test_snapshot_lists_this_node(admin_relay):
    status, snap = inspect(admin_relay, "snapshot")
    assert status == 200
    assert snap["node"] == admin_relay.node_id
    [node] = snap["nodes"]
    assert node["node"] == admin_relay.node_id and node["self"] and node["state"] == "up"
    assert node["slot_holder"] is False


def test_channels_and_channel_detail_for_a_known_set(admin_relay):
    r = admin_relay
    big, small = unique_topic("insp-big"), unique_topic("insp-small")

    async def body():
        clients = [await PhoenixClient.open(r, vsn) for vsn in ("1.0.0", "2.0.0", "2.0.0")]
        for i, c in enumerate(clients):
            assert (await c.join(big, join_config(presence=True, key=f"user{i}")))["status"] == "ok"
        assert (await clients[0].join(small))["status"] == "ok"
        assert (await clients[1].track(big, {"name": "Bea"}))["status"] == "ok"
        await clients[2].broadcast(big, "e", {"n": 1})

        marker = big.split(":")[1][:-8]  # "insp-big-": matches this test's big topic only
        status, ch = inspect(r, "channels", q=marker.upper(), limit=5)
        assert status == 200, ch
        assert ch["missing"] == [] and ch["nodes"][r.node_id]["matched"] >= 1
        row = next(x for x in ch["list"] if x["topic"] == big)
        assert row["members"] == {r.node_id: 3} and row["total"] == 3
        assert row["presence"] == 1 and row["broadcasts"] == 1
        assert row["key"] == big and row["private"] is False

        status, ch = inspect(r, "channels", q=big.split(":")[1])
        assert [x["topic"] for x in ch["list"]] == [big]

        status, d = inspect(r, "channel", topic=big.split(":")[1])  # "realtime:" is added
        assert status == 200, d
        assert d["topic"] == big and d["private"] is False and d["total"] == 3 and d["broadcasts"] == 1
        status, priv = inspect(r, "channel", topic=big, private="true")  # its private channel: another one
        assert status == 200 and priv["private"] is True and priv["total"] == 0
        assert sorted(m["vsn"] for m in d["member_list"]) == ["1.0.0", "2.0.0", "2.0.0"]
        assert all(m["node"] == r.node_id and m["role"] == "anon" for m in d["member_list"])
        assert sorted(m["presence_key"] for m in d["member_list"]) == ["user0", "user1", "user2"]
        assert d["presence"]["entries"] == 1
        [p] = d["presence"]["list"]
        assert p["key"] == "user1" and p["meta"] == {"name": "Bea"} and p["phx_ref"]
        assert d["subscriptions"] == []

        status, small_d = inspect(r, "channel", topic=small)
        assert small_d["total"] == 1 and small_d["presence"]["entries"] == 0
        for c in clients:
            await c.close()
        # Gone once they left.
        wait_until(lambda: inspect(r, "channel", topic=big)[1]["total"] == 0, timeout=10,
                   what="the channel to be empty")
    run(body())


def test_bad_requests(admin_relay):
    assert inspect(admin_relay, "channel")[0] == 400  # no topic
    assert inspect(admin_relay, "channels", q="x" * 201)[0] == 400
    assert inspect(admin_relay, "nothing")[0] == 404
    status, _ = admin_relay.http("/api/inspector/snapshot", method="POST", body=b"{}", headers=bearer(ADMIN))
    assert status == 405


def test_feed_is_a_long_poll_of_per_second_samples(admin_relay):
    r = admin_relay

    async def body():
        status, first = inspect(r, "feed", after=0)  # waits for the first sample if none yet
        assert status == 200 and first["samples"], first
        seq = first["seq"]
        status, nxt = inspect(r, "feed", after=seq)  # answered when the next one is taken
        assert nxt["seq"] > seq and all(s["seq"] > seq for s in nxt["samples"])
        [node] = nxt["samples"][-1]["nodes"]
        assert node["node"] == r.node_id

        # Messages in per second show the traffic.
        c = await PhoenixClient.open(r)
        topic = unique_topic("insp-feed")
        await c.join(topic, join_config(self=True))
        seen = 0.0
        seq = nxt["seq"]
        deadline = asyncio.get_running_loop().time() + 15
        while seen <= 0 and asyncio.get_running_loop().time() < deadline:
            for i in range(20):
                await c.broadcast(topic, "e", {"i": i})
            _, f = await asyncio.to_thread(inspect, r, "feed", after=seq)
            seq = f["seq"]
            seen = max([s["nodes"][0]["in"] for s in f["samples"]] + [0])
            deliveries = max([s["nodes"][0]["deliveries"] for s in f["samples"]] + [0])
        assert seen > 0 and deliveries > 0
        await c.close()
    run(body())


@pytest.mark.parametrize("args, message", [
    (["--admin-token", "short"], "at least 16 bytes"),
    (["--admin-role", "anon"], "every client an admin"),
])
def test_bad_admin_settings_refused_at_startup(args, message):
    out = subprocess.run([RELAY_BIN, "--jwt-secret", "s" * 32, "--listen", f"127.0.0.1:{free_port()}"] + args,
                         capture_output=True, text=True, timeout=20)
    assert out.returncode != 0 and message in out.stderr + out.stdout
