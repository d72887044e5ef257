"""The inspector's page in a real browser (headless Chromium over the DevTools
Protocol, tests/support/browser.py), on a two-node cluster: a wrong credential gets the
prompt back, the admin token shows both nodes; the busiest channels list a channel with
members on both nodes; the console joins it through the relay's WebSocket endpoint,
receives a broadcast a test client sends from the other node, and sends one that the
test client receives. A screenshot is saved under the test's tmp dir (its path printed;
INSPECTOR_SCREENSHOT=path copies it there too, as docs/img/inspector.png was made)."""
import json
import os
import shutil

from support.browser import Browser
from support.cluster import FAST, start_cluster
from support.phoenix import PhoenixClient, join_config, run, unique_topic

ADMIN = "browser-inspector-admin-token-0123456789"


def text_of(selector):
    return f"document.querySelector({json.dumps(selector)}).textContent"


def test_inspector_page_in_a_browser(relay_factory, tmp_path):
    cluster = start_cluster(relay_factory, ["a", "b"], args=FAST + ["--admin-token", ADMIN],
                            node_args={"a": ["--region", "eu"], "b": ["--region", "eu"]})
    a, b = cluster["a"], cluster["b"]
    topic = unique_topic("browser")
    name = topic.split(":", 1)[1]

    async def body():
        client = await PhoenixClient.open(b, "2.0.0")  # the test's own client, on the other node
        assert (await client.join(topic, join_config(presence=True, key="test-client")))["status"] == "ok"
        assert (await client.track(topic, {"who": "test client"}))["status"] == "ok"

        async with Browser(str(tmp_path)) as browser:
            page = browser.page
            await page.navigate(f"http://{a.host}:{a.port}/inspector")
            await page.wait("!document.querySelector('#login').hidden", what="the prompt")
            assert await page.js("document.querySelector('#main').hidden") is True

            await page.fill("#token", "not-the-admin-token")
            await page.click("#login-button")
            await page.wait(f"{text_of('#login-error')}.includes('refused')", what="the refusal")

            await page.fill("#token", ADMIN)
            await page.click("#login-button")
            await page.wait("!document.querySelector('#main').hidden", what="the inspector")
            rows = await page.wait("""(() => { const r = [...document.querySelectorAll('#nodes tbody tr')]
                .map(tr => [...tr.children].map(td => td.textContent));
                return r.length === 2 && r.every(c => c[1] === 'up') && r; })()""", what="two nodes up")
            assert sorted(r[0].split(" ")[0] for r in rows) == ["a", "b"]
            assert all(r[2] == "eu" and len(r[3]) == 16 for r in rows)

            # The console: connect with a client key, join the channel.
            await page.fill("#c-apikey", a.token())
            await page.click("#c-connect")
            await page.wait(f"{text_of('#c-state')}.startsWith('connected')", what="the console connected")
            await page.fill("#c-topic", name)
            await page.fill("#c-key", "browser")
            await page.click("#c-join")
            await page.wait(f"{text_of('#c-state')} === 'joined {topic}'", what="the channel joined")
            await page.wait(f"{text_of('#c-log')}.includes('test client')", what="the presence state")

            # The channel list shows it with a member on each node.
            await page.fill("#ch-search", name)
            await page.wait(f"""[...document.querySelectorAll('#channels tbody tr')].some(tr =>
                tr.children[0].textContent === {json.dumps(topic)} && tr.children[1].textContent === '2'
                && tr.children[2].textContent === 'a: 1, b: 1')""", what="the channel with a member per node")

            # A broadcast from the test client reaches the page...
            await client.broadcast(topic, "chat", {"text": "from the test client"})
            await page.wait(f"{text_of('#c-log')}.includes('from the test client')", what="the test's broadcast")
            # ... and one from the page reaches the test client.
            await page.fill("#c-event", "reply")
            await page.fill("#c-payload", json.dumps({"text": "from the browser"}))
            await page.click("#c-send")
            msg = await client.expect_event(topic, "broadcast",
                                            where=lambda p: p.get("event") == "reply", timeout=15)
            assert msg["payload"]["payload"] == {"text": "from the browser"}

            # The page's presence on node a reaches the test client as a diff.
            await page.fill("#c-meta", json.dumps({"status": "inspecting"}))
            await page.click("#c-track")
            diff = await client.expect_event(topic, "presence_diff", where=lambda p: "browser" in p["joins"],
                                             timeout=15)
            assert diff["payload"]["joins"]["browser"]["metas"][0]["status"] == "inspecting"

            # The channel's detail, and rates drawn for both nodes.
            await page.js("[...document.querySelectorAll('#channels tbody tr')].find(tr => "
                          f"tr.children[0].textContent === {json.dumps(topic)}).click()")
            await page.wait(f"{text_of('#cd-presence')}.includes('inspecting')", what="the channel's presence")
            await page.wait("document.querySelectorAll('#legend span').length === 2", what="a legend of two nodes")
            await page.wait("[...document.querySelectorAll('.chart .title span:last-child')]"
                            ".every(s => s.textContent.includes('/'))", what="charts with a value per node")
            errors = [c for c in page.console if c[0] in ("error", "exception")]
            assert not errors, errors

            shot = await page.screenshot(str(tmp_path / "inspector.png"))
            print(f"\ninspector screenshot: {shot}")
            if os.environ.get("INSPECTOR_SCREENSHOT"):
                shutil.copy(shot, os.environ["INSPECTOR_SCREENSHOT"])
        await client.close()
    run(body(), timeout=180)
