"""Shutdown, as a Supabase node does it: on SIGTERM Phoenix drains every socket
(Phoenix.Socket __info__(:socket_drain, ...): "downstream websock_adapter's will close
with 1012 Service Restart"; connection_lifecycle_test "on disconnect called, socket is
killed" asserts the close code 1012) without closing the channels, so clients reconnect
and rejoin them. A phx_close would tell realtime-js the channel is gone for good."""
import asyncio

from support.phoenix import PhoenixClient, join_config, run, unique_topic

from .helpers import binding, subscribed

SERVICE_RESTART = 1012


def test_sigterm_closes_sockets_with_1012_and_no_phx_close(cdc, vsn):
    db, relay = cdc

    async def body():
        clients = []
        for config in (join_config(self=True), join_config(presence=True, key="k")):
            c = await PhoenixClient.open(relay, vsn)
            topic = unique_topic()
            assert (await c.join(topic, config))["status"] == "ok"
            clients.append(c)
        c = await PhoenixClient.open(relay, vsn)
        await subscribed(c, unique_topic(), [binding("INSERT")])
        clients.append(c)
        rc = await asyncio.get_running_loop().run_in_executor(None, relay.stop)
        assert rc == 0
        for c in clients:
            assert await c.wait_closed(timeout=15) == SERVICE_RESTART
            closing = [m for m in c.inbox if m["event"] in ("phx_close", "phx_error")]
            assert not closing, closing
    run(body())
