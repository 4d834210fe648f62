"""A proxy in front of the local Upstash REST server that can make Redis late.

Each request it receives may be held before it is forwarded (a call that runs late, after
its caller gave up) or after Redis has answered (a call that ran and committed, but whose
answer arrives after the caller's timeout). It counts the requests it forwards, so tests
can also count round trips per request.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from starlette.types import Receive, Scope, Send

from tiergate_tools.localredis.background import serve_in_thread

__all__ = ["Hold", "LateProxy", "late_proxy"]


@dataclass(frozen=True, slots=True)
class Hold:
    """Seconds one request is held before it is forwarded, and after Redis has answered."""

    before: float = 0.0
    after: float = 0.0


@dataclass
class LateProxy:
    upstream: str
    url: str = ""
    plan: list[Hold] = field(default_factory=list)  # for the next requests, in order
    bodies: list[bytes] = field(default_factory=list)  # every request forwarded, in order
    _busy: int = 0
    _quiet: threading.Condition = field(default_factory=threading.Condition)

    def hold(self, *holds: Hold) -> None:
        with self._quiet:
            self.plan[:] = holds

    def evalshas(self) -> int:
        """Gate decisions forwarded so far (the gate script's calls)."""
        return sum(b'"EVAL' in body for body in self.bodies)

    def wait_until_quiet(self, timeout_s: float = 10.0) -> None:
        """Until every request it received has been forwarded and answered."""
        with self._quiet:
            if not self._quiet.wait_for(lambda: self._busy == 0, timeout_s):
                raise TimeoutError("the proxy still holds requests")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        with self._quiet:
            self._busy += 1
            hold = self.plan.pop(0) if self.plan else Hold()
        try:
            await asyncio.sleep(hold.before)
            with self._quiet:
                self.bodies.append(body)
            headers = {
                k.decode(): v.decode()
                for k, v in scope["headers"]
                if k.lower() in (b"authorization", b"upstash-encoding", b"content-type")
            }
            async with httpx.AsyncClient(base_url=self.upstream) as client:
                answer = await client.post(scope["path"], content=body, headers=headers)
            await asyncio.sleep(hold.after)
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status_code,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": answer.content})
        finally:
            with self._quiet:
                self._busy -= 1
                self._quiet.notify_all()


@contextmanager
def late_proxy(upstream: str) -> Iterator[LateProxy]:
    proxy = LateProxy(upstream)
    with serve_in_thread(proxy) as url:
        proxy.url = url
        yield proxy
