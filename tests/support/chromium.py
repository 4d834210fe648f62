"""Headless Chromium (Debian's `chromium`, /usr/bin/chromium) driven over the DevTools
protocol with aiohttp's websocket client: open a page, read what it renders, take a
screenshot. No browser download, no Playwright: the protocol is a few JSON messages.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from .tools import require

__all__ = ["Page", "chromium_page"]


def chromium_binary() -> str:
    """The installed chromium; without it the test is skipped, or fails under CI."""
    require("chromium")
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found is not None
    return found


class Page:
    """One tab, attached in flat mode: every command carries the tab's session id."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: str) -> None:
        self._ws, self._session = ws, session
        self._ids = itertools.count(1000)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await _call(self._ws, self._ids, method, params, self._session)

    async def evaluate(self, expression: str) -> Any:
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def screenshot(self) -> bytes:
        """The whole page, 1200 px wide, as PNG."""
        height = await self.evaluate("document.documentElement.scrollHeight")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=1200, height=int(height), deviceScaleFactor=1, mobile=False,
        )  # fmt: skip
        shot = await self.send("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


@asynccontextmanager
async def chromium_page(url: str, profile: Path) -> AsyncIterator[Page]:
    """`url` loaded in a fresh headless Chromium (its profile in `profile`)."""
    process = await asyncio.create_subprocess_exec(
        chromium_binary(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-extensions", "--remote-debugging-port=0", f"--user-data-dir={profile}",
        "about:blank", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port = await _devtools_port(profile / "DevToolsActivePort", process)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/json/version") as version,
        ):
            browser_ws = (await version.json())["webSocketDebuggerUrl"]
            async with http.ws_connect(browser_ws, max_msg_size=0) as ws:
                ids = itertools.count(1)
                target = await _call(ws, ids, "Target.createTarget", {"url": "about:blank"})
                attach = {"targetId": target["targetId"], "flatten": True}
                attached = await _call(ws, ids, "Target.attachToTarget", attach)
                page = Page(ws, attached["sessionId"])
                await page.send("Page.enable")
                await page.send("Page.navigate", url=url)
                for _ in range(200):  # the page has no script: loaded means parsed and laid out
                    if await page.evaluate("document.readyState") == "complete":
                        break
                    await asyncio.sleep(0.05)
                yield page
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _devtools_port(path: Path, process: asyncio.subprocess.Process) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise AssertionError(f"chromium exited with {process.returncode} before it listened")
        port = _written_port(path)
        if port is not None:
            return port
        await asyncio.sleep(0.05)
    raise AssertionError("chromium did not open its DevTools port within 30 s")


def _written_port(path: Path) -> int | None:
    """Chromium writes the port it chose, then its browser path, to DevToolsActivePort."""
    try:
        first = path.read_text().split()
    except FileNotFoundError:
        return None
    return int(first[0]) if first else None


async def _call(
    ws: aiohttp.ClientWebSocketResponse,
    ids: itertools.count[int],
    method: str,
    params: dict[str, Any],
    session: str | None = None,
) -> dict[str, Any]:
    message_id = next(ids)
    message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
    if session:
        message["sessionId"] = session
    await ws.send_str(json.dumps(message))
    while True:  # events arrive in between: skip them until our answer
        reply = json.loads((await asyncio.wait_for(ws.receive(), 30)).data)
        if reply.get("id") == message_id:
            if "error" in reply:
                raise AssertionError(f"{method}: {reply['error']}")
            result: dict[str, Any] = reply["result"]
            return result
