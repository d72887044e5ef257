"""Postgres Changes as a test client uses them through the relay: a binding as realtime-js
sends it, a join that checks the reply's echo and waits for "Subscribed to PostgreSQL",
and the next change of a channel."""
from support.phoenix import join_config, unique_topic


def binding(event="*", table="todos", filter=None, schema="public", select=None):
    """A postgres_changes binding; table None leaves it out (a whole-schema binding)."""
    b = {"event": event, "schema": schema}
    if table is not None:
        b["table"] = table
    if filter is not None:
        b["filter"] = filter
    if select is not None:
        b["select"] = select
    return b


async def subscribe(client, bindings, topic=None, wait_live=True):
    """Joins with postgres_changes bindings; checks the reply echoes them in order with
    ids; waits for "Subscribed to PostgreSQL". Returns (topic, ids)."""
    topic = topic or unique_topic("db")
    reply = await client.join(topic, join_config(changes=bindings))
    assert reply["status"] == "ok", reply
    echoed = reply["response"]["postgres_changes"]
    assert len(echoed) == len(bindings)
    for sent, got in zip(bindings, echoed):
        assert isinstance(got["id"], int)
        assert {k: v for k, v in got.items() if k != "id"} == sent
    ids = [b["id"] for b in echoed]
    assert len(set(ids)) == len(ids)
    if wait_live:
        await subscribed(client, topic)
    return topic, ids


async def subscribed(client, topic, timeout=20):
    msg = await client.expect_event(topic, "system", timeout=timeout)
    assert msg["payload"] == {"extension": "postgres_changes", "status": "ok",
                              "message": "Subscribed to PostgreSQL", "channel": topic[len("realtime:"):]}, msg


async def change(client, topic, where=None, timeout=15):
    """The payload of the next postgres_changes push on topic (where: a filter on it)."""
    msg = await client.expect_event(topic, "postgres_changes", timeout=timeout, where=where)
    return msg["payload"]


async def system_error(client, topic, timeout=15):
    """The next postgres_changes system error on topic."""
    msg = await client.expect_event(topic, "system", timeout=timeout,
                                    where=lambda p: p.get("status") == "error")
    assert msg["payload"]["extension"] == "postgres_changes", msg
    assert msg["payload"]["channel"] == topic[len("realtime:"):], msg
    return msg["payload"]["message"]


async def changes_until_marker(db, clients, marker="marker"):
    """Inserts a row into the marker table and collects, per (client, topic), the data of
    every other change that arrives before the marker's (commit order puts it behind
    everything committed earlier): one list of data dicts per client. Each client must
    be subscribed to the marker table."""
    db.execute(f"INSERT INTO {marker} DEFAULT VALUES")
    got = []
    for c, topic in clients:
        seen = []
        while True:
            d = (await change(c, topic))["data"]
            if d["table"] == marker:
                break
            seen.append(d)
        got.append(seen)
    return got


def row_of(data):
    """The row a change carries: record, or old_record for a DELETE."""
    return data.get("record") or data.get("old_record")
