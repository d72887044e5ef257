"""An asyncio Phoenix / Supabase Realtime client for tests, speaking vsn 1.0.0 and
2.0.0 (including binary user broadcasts, kind 3 out and kind 4 in).

Messages are returned as dicts {join_ref, ref, topic, event, payload}; a kind 4 frame
becomes event "broadcast" with payload {"type","event","payload","meta"}, "binary": True,
its encoding byte and the user payload's bytes as sent ("raw_payload").
"""
import asyncio
import json
import time
import uuid

import websockets

VSNS = ("1.0.0", "2.0.0")


def join_config(self=False, ack=False, presence=False, key="", changes=(), private=False):
    """A phx_join config as realtime-js sends it."""
    return {"broadcast": {"self": self, "ack": ack}, "presence": {"enabled": presence, "key": key},
            "postgres_changes": list(changes), "private": private}


def unique_topic(prefix="room"):
    return f"realtime:{prefix}-{uuid.uuid4().hex[:8]}"


_open_clients = []  # closed by run() when the test body ends, however it ends


class PhoenixClient:
    def __init__(self, ws, vsn):
        self.ws = ws
        self.vsn = vsn
        self.ref = 0
        self.join_refs = {}
        self.inbox = []
        _open_clients.append(self)

    @classmethod
    async def connect(cls, url, vsn="1.0.0", **kwargs):
        kwargs.setdefault("close_timeout", 2)
        ws = await websockets.connect(url, max_size=None, open_timeout=10, **kwargs)
        return cls(ws, vsn)

    @classmethod
    async def open(cls, relay, vsn="1.0.0", token=None, path="/socket/websocket", **kwargs):
        """A client of relay speaking vsn, authenticated by token (default: a valid anon token)."""
        return await cls.connect(relay.url(token, vsn, path), vsn, **kwargs)

    # -- sending ---------------------------------------------------------------------
    def next_ref(self):
        self.ref += 1
        return str(self.ref)

    async def send_raw(self, data):
        await self.ws.send(data)

    async def push(self, topic, event, payload, join_ref=None, ref=None):
        ref = ref or self.next_ref()
        join_ref = join_ref if join_ref is not None else self.join_refs.get(topic)
        if self.vsn == "2.0.0":
            frame = [join_ref, ref, topic, event, payload]
        else:
            frame = {"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}
        await self.ws.send(json.dumps(frame))
        return ref

    async def push_binary_broadcast(self, topic, event, payload, json_encoding=True, metadata=b""):
        """A kind 3 user broadcast push, as realtime-js sends with vsn 2.0.0 (a bytes
        payload is sent as is, under either encoding)."""
        join_ref = (self.join_refs.get(topic) or "").encode()
        ref = self.next_ref().encode()
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        t, e = topic.encode(), event.encode()
        header = bytes([3, len(join_ref), len(ref), len(t), len(e), len(metadata), 1 if json_encoding else 0])
        await self.ws.send(header + join_ref + ref + t + e + metadata + body)
        return ref.decode()

    async def join(self, topic, config=None, access_token=None, timeout=15):
        """Joins and returns the phx_reply payload."""
        join_ref = self.next_ref()
        payload = {"config": config if config is not None else {
            "broadcast": {"self": False, "ack": False}, "presence": {"enabled": False, "key": ""},
            "postgres_changes": [], "private": False}}
        if access_token:
            payload["access_token"] = access_token
        self.join_refs[topic] = join_ref
        await self.push(topic, "phx_join", payload, join_ref=join_ref, ref=join_ref)
        reply = await self.reply(join_ref, topic, timeout)
        return reply["payload"]

    async def leave(self, topic, timeout=10):
        ref = await self.push(topic, "phx_leave", {})
        return (await self.reply(ref, topic, timeout))["payload"]

    async def broadcast(self, topic, event, payload):
        return await self.push(topic, "broadcast", {"type": "broadcast", "event": event, "payload": payload})

    async def track(self, topic, meta):
        ref = await self.push(topic, "presence", {"type": "presence", "event": "track", "payload": meta})
        return (await self.reply(ref, topic))["payload"]

    async def heartbeat(self):
        ref = await self.push("phoenix", "heartbeat", {}, join_ref=None)
        return (await self.reply(ref, "phoenix"))["payload"]

    # -- receiving -------------------------------------------------------------------
    def decode(self, frame):
        if isinstance(frame, bytes):
            kind = frame[0]
            assert kind == 4, f"unexpected binary frame kind {kind}"
            tl, el, ml, enc = frame[1], frame[2], frame[3], frame[4]
            pos = 5
            topic = frame[pos:pos + tl].decode(); pos += tl
            event = frame[pos:pos + el].decode(); pos += el
            meta = frame[pos:pos + ml]; pos += ml
            body = frame[pos:]
            payload = json.loads(body) if enc == 1 else body
            inner = {"type": "broadcast", "event": event, "payload": payload}
            if meta:
                inner["meta"] = json.loads(meta)
            return {"join_ref": None, "ref": None, "topic": topic, "event": "broadcast", "payload": inner,
                    "binary": True, "encoding": enc, "raw_payload": bytes(body)}
        data = json.loads(frame)
        if isinstance(data, list):
            join_ref, ref, topic, event, payload = data
            return {"join_ref": join_ref, "ref": ref, "topic": topic, "event": event, "payload": payload}
        data.setdefault("join_ref", None)
        return data

    async def recv(self, timeout=10):
        if self.inbox:
            return self.inbox.pop(0)
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        return self.decode(frame)

    async def expect(self, predicate, timeout=10, what="a matching message"):
        """The first message (buffered or new) for which predicate is true; others stay buffered."""
        for i, msg in enumerate(self.inbox):
            if predicate(msg):
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within {timeout}s; got {self.inbox[-5:]}")
            try:
                frame = await asyncio.wait_for(self.ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            msg = self.decode(frame)
            if predicate(msg):
                return msg
            self.inbox.append(msg)

    async def expect_event(self, topic, event, timeout=10, where=None):
        return await self.expect(lambda m: m["topic"] == topic and m["event"] == event and
                                 (where is None or where(m["payload"])), timeout, f"{event} on {topic}")

    async def reply(self, ref, topic, timeout=10):
        return await self.expect(lambda m: m["event"] == "phx_reply" and m["ref"] == ref and m["topic"] == topic,
                                 timeout, f"reply to ref {ref} on {topic}")

    async def assert_silent(self, seconds, predicate=lambda m: True):
        """Fails if a message matching predicate arrives within seconds."""
        try:
            msg = await self.expect(predicate, seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {msg}")

    async def wait_closed(self, timeout=10):
        """Waits for the server to close the connection, reading (and buffering) whatever
        arrives before; returns the close code."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"connection still open after {timeout}s")
            try:
                frame = await asyncio.wait_for(self.ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            except websockets.ConnectionClosed:
                return self.ws.close_code
            self.inbox.append(self.decode(frame))

    async def close(self):
        await self.ws.close()


async def assert_serves(relay, vsn="2.0.0"):
    """A new client can still connect, heartbeat, join and get its own broadcast back."""
    c = await PhoenixClient.open(relay, vsn)
    try:
        assert (await c.heartbeat()) == {"status": "ok", "response": {}}
        topic = unique_topic("probe")
        reply = await c.join(topic, join_config(self=True, ack=True))
        assert reply["status"] == "ok", reply
        ref = await c.broadcast(topic, "probe", {"n": 1})
        assert (await c.reply(ref, topic))["payload"]["status"] == "ok"
        got = await c.expect_event(topic, "broadcast")
        assert got["payload"]["payload"] == {"n": 1}
    finally:
        await c.close()


def run(coro, timeout=120):
    """Runs an async test body with an overall deadline, then closes every client it
    left open (an abandoned connection would hold the loop's shutdown for seconds)."""
    async def main():
        try:
            return await asyncio.wait_for(coro, timeout)
        finally:
            clients = list(_open_clients)
            _open_clients.clear()
            await asyncio.gather(*(asyncio.wait_for(c.ws.close(), 5) for c in clients), return_exceptions=True)
    return asyncio.run(main())
