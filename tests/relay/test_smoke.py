"""First relay checks: connect, join, broadcast between protocol versions."""
from support.phoenix import PhoenixClient, run


def test_broadcast_between_versions(relay):
    async def body():
        a = await PhoenixClient.connect(relay.url(vsn="2.0.0"), "2.0.0")
        b = await PhoenixClient.connect(relay.url(vsn="1.0.0"), "1.0.0")
        reply = await a.join("realtime:room", {"broadcast": {"self": True, "ack": True}})
        assert reply["status"] == "ok"
        assert (await b.join("realtime:room"))["status"] == "ok"
        await a.broadcast("realtime:room", "greet", {"hello": "world"})
        got = await b.expect_event("realtime:room", "broadcast")
        assert got["payload"] == {"type": "broadcast", "event": "greet", "payload": {"hello": "world"}}
        mine = await a.expect_event("realtime:room", "broadcast")
        assert mine["payload"]["payload"] == {"hello": "world"}
        await a.close()
        await b.close()
    run(body())
