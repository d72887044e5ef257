"""A headless Chromium driven over the Chrome DevTools Protocol, for tests of pages the
relay serves (the inspector). `async with Browser(tmp_dir) as b:` starts Debian's
chromium with a fresh profile, no network of its own beyond what the page asks for, and
a debugging port chosen by the browser; the browser is always stopped on the way out
(killed if it does not exit). `b.page` is the one tab: navigate, evaluate JavaScript,
poll a condition with a deadline, take a screenshot.
"""
import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websockets

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", "--window-size=1280,1700"]


class JsError(AssertionError):
    pass


class Page:
    """One tab over its own DevTools WebSocket."""

    def __init__(self, ws):
        self.ws = ws
        self.ids = itertools.count(1)
        self.console = []  # (type, text) of the page's console messages and exceptions

    async def call(self, method, timeout=30, **params):
        msg_id = next(self.ids)
        await self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), max(0.1, deadline - time.monotonic()))
            msg = json.loads(raw)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg):
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            self.console.append((params["type"], " ".join(str(a.get("value", a.get("description", "")))
                                                          for a in params.get("args", []))))
        elif method == "Runtime.exceptionThrown":
            self.console.append(("exception", params["exceptionDetails"].get("exception", {}).get("description", "")))

    async def navigate(self, url, timeout=20):
        """Opens url and waits until it has loaded."""
        r = await self.call("Page.navigate", url=url)
        if r.get("errorText"):
            raise AssertionError(f"{url}: {r['errorText']}")
        await self.wait(f"location.href === {json.dumps(url)} && document.readyState === 'complete'", timeout,
                        what=f"{url} loaded")

    async def js(self, expression):
        """The value of a JavaScript expression (promises awaited)."""
        r = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise JsError(f"{expression}: {r['exceptionDetails'].get('exception', {}).get('description', r)}")
        return r["result"].get("value")

    async def wait(self, expression, timeout=20, what=None):
        """Polls a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed {what or expression} (console: {self.console[-10:]})")
            await asyncio.sleep(0.1)

    async def fill(self, selector, text):
        """Types text into a field as a user does (focus, then key input)."""
        await self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.focus(); e.select?.(); "
                      f"e.value = ''; }})()")
        await self.call("Input.insertText", text=text)

    async def click(self, selector):
        """A real mouse click at the middle of the element."""
        box = await self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                            f"e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); "
                            f"return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    async def screenshot(self, path):
        r = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path


class Browser:
    def __init__(self, tmp_dir):
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_dir)
        self.log_path = os.path.join(tmp_dir, "chromium.log")
        self.proc = None
        self.page = None

    async def __aenter__(self):
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=log, stderr=log, start_new_session=True)
        log.close()
        try:
            port = await self._port()
            self.page = Page(await websockets.connect(await self._page_ws(port), max_size=None,
                                                      open_timeout=20, close_timeout=2))
            await self.page.call("Page.enable")
            await self.page.call("Runtime.enable")
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(self, *exc):
        try:
            if self.page:
                await self.page.ws.close()
        finally:
            self.stop()

    async def _port(self, timeout=30):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                with open(path) as f:
                    first = f.readline().strip()
                if first:
                    return int(first)
            except (OSError, ValueError):
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"chromium did not open its debugging port: {self.log()[-2000:]}")

    async def _page_ws(self, port, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("chromium has no page to drive")
            await asyncio.sleep(0.1)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """Stops the browser and every process it started (its own session)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait()
