"""Helpers of the compatibility suite: clients joined to channels, the system messages
Supabase pushes, and the table Supabase's own channel tests stream (`test`)."""
import json

from support.phoenix import PhoenixClient, join_config, unique_topic

# Supabase's integration tests stream this table (test/support: setup_postgres_changes).
TEST_TABLE = """
CREATE TABLE public.test (id serial PRIMARY KEY, details text, binary_data bytea);
GRANT SELECT ON public.test TO anon, authenticated, service_role;
"""

# Values a JSON re-encoding can spoil: doubles that need 17 digits, an integer past 64
# bits, exponents, escapes, non-ASCII text, empty containers.
TRICKY = {
    "t": 1814.7000000029802,
    "third": 0.1 + 0.2,
    "tiny": 5e-324,
    "big": 1.7976931348623157e308,
    "int64": 9223372036854775807,
    "huge": 123456789012345678901234567890,
    "neg": -0.5,
    "text": "héllo \"wörld\" \\ / \u2028 \U0001f389",
    "empty": {},
    "none": [],
    "null": None,
    "flags": [True, False],
}
TRICKY_JSON = ('{"t":1814.7000000029802,"third":0.30000000000000004,"tiny":5e-324,'
               '"big":1.7976931348623157e308,"int64":9223372036854775807,'
               '"huge":123456789012345678901234567890,"neg":-0.5,'
               '"text":"h\\u00e9llo \\"w\\u00f6rld\\" \\\\ \\/ \\u2028 \\ud83c\\udf89",'
               '"empty":{},"none":[],"null":null,"flags":[true,false]}')


def sub_topic(topic):
    """The channel name Supabase puts in system messages: the topic without realtime:."""
    return topic.split(":", 1)[1]


def binding(event="*", table="test", schema="public", **extra):
    b = {"event": event, "schema": schema, "table": table}
    b.update(extra)
    return b


async def open_joined(relay, vsn, config=None, topic=None, token=None, **config_kwargs):
    """A new client joined to topic (a fresh one by default); returns (client, topic)."""
    c = await PhoenixClient.open(relay, vsn, token=token)
    topic = topic or unique_topic()
    reply = await c.join(topic, config if config is not None else join_config(**config_kwargs))
    assert reply["status"] == "ok", reply
    return c, topic


async def system_message(client, topic, timeout=10, where=None):
    """The payload of the next `system` push on topic (optionally the first matching where)."""
    msg = await client.expect_event(topic, "system", timeout=timeout, where=where)
    assert msg["ref"] is None, msg
    return msg["payload"]


async def subscribed(client, topic, bindings, timeout=20):
    """Joins with postgres_changes bindings, then waits for "Subscribed to PostgreSQL";
    returns the reply's binding ids."""
    reply = await client.join(topic, join_config(changes=bindings))
    assert reply["status"] == "ok", reply
    ids = [b["id"] for b in reply["response"]["postgres_changes"]]
    payload = await system_message(client, topic, timeout)
    assert payload == {"extension": "postgres_changes", "status": "ok",
                       "message": "Subscribed to PostgreSQL", "channel": sub_topic(topic)}, payload
    return ids


async def closed_with_system_error(client, topic, timeout=10):
    """A channel shut down as Supabase's shutdown_response does it: a `system` error
    from the `system` extension, then phx_close under the join ref. Returns the message."""
    payload = await system_message(client, topic, timeout)
    assert payload["extension"] == "system" and payload["status"] == "error", payload
    assert payload["channel"] == sub_topic(topic), payload
    close = await client.expect_event(topic, "phx_close", timeout=timeout)
    assert close["ref"] == client.join_refs[topic], close
    return payload["message"]


async def postgres_change(client, topic, where=None, timeout=15):
    return (await client.expect_event(topic, "postgres_changes", timeout=timeout, where=where))["payload"]


async def push_as(client, topic, event, payload, ref, join_ref):
    """A push with exactly this join_ref (None included), bypassing the client's own."""
    if client.vsn == "2.0.0":
        frame = [join_ref, ref, topic, event, payload]
    else:
        frame = {"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}
    await client.send_raw(json.dumps(frame))
