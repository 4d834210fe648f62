"""Count the HTTP requests that reach the local Upstash server: one request, one round trip."""

from __future__ import annotations

from collections import Counter

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RequestCounter"]


class RequestCounter:
    """Pure ASGI wrapper; lifespan passes through so the wrapped app still opens its pool.

    It counts in the server's thread and is read from the benchmark's thread only between
    phases, when no request is in flight.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._by_path: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._by_path[scope["path"]] += 1
        await self.app(scope, receive, send)

    @property
    def total(self) -> int:
        return sum(self._by_path.values())

    def by_path(self) -> dict[str, int]:
        return dict(self._by_path)

    def reset(self) -> None:
        self._by_path.clear()
