"""The gate as pure ASGI middleware: it sees the matched route, the key and the final status.

It runs before routing's dependencies (so a denied request costs the app nothing), adds the
RateLimit fields to the response, and settles the bill once the status is known.
"""

from __future__ import annotations

import hmac

from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..gate import Gate
from ..outcomes import Admitted, Denied
from .problems import admitted_headers, send_denial
from .requirements import all_routes, requirement_of

__all__ = ["GateMiddleware"]

_WARMUP_HEADER = b"x-tiergate-warmup"


class GateMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        gate: Gate,
        router: Router,
        prefix: str,
        warmup_secret: str | None = None,
    ) -> None:
        self.app = app
        self._gate = gate
        self._router = router
        self._prefix = prefix
        self._warmup_secret = warmup_secret.encode() if warmup_secret else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if self._is_warmup(headers):
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        route = self._gated_route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        outcome = await self._gate.admit(
            _text(headers.get(b"x-api-key")),
            requirement_of(route),
            _text(headers.get(b"idempotency-key")) or "",
        )
        scope.setdefault("state", {})["tiergate.outcome"] = outcome
        if isinstance(outcome, Denied):
            await send_denial(send, outcome)
            return
        await self._serve(outcome, scope, receive, send)

    async def _serve(self, admitted: Admitted, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["tiergate"] = admitted
        extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in admitted_headers(admitted)]
        status = 500  # what the bill sees if the app fails before starting a response

        async def send_with_limits(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_limits)
        finally:
            await self._gate.settle(admitted, status)

    def _gated_route(self, scope: Scope) -> BaseRoute | None:
        """The route that will serve this request, when it is under the gated prefix."""
        path: str = scope["path"]
        if scope["method"] == "OPTIONS":
            return None
        if path != self._prefix and not path.startswith(self._prefix + "/"):
            return None
        for route in all_routes(self._router.routes):
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route
        return None  # no such route: let the app answer 404/405 without charging anyone

    def _is_warmup(self, headers: dict[bytes, bytes]) -> bool:
        given = headers.get(_WARMUP_HEADER)
        if not (self._warmup_secret and given):
            return False
        return hmac.compare_digest(given, self._warmup_secret)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        found.setdefault(name, value)  # the first of repeated headers wins
    return found


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
