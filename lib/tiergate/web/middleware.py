"""The gate as pure ASGI middleware: it sees the matched route, the key and the final status.

It runs before routing's dependencies (so a denied request costs the app nothing), adds the
RateLimit fields to the response, and settles the bill once the status is known. With an
`Idempotency-Key` it reads the body first (the fingerprint needs it), answers a replay from
the store without running the app, and copies a first answer for the store.
"""

from __future__ import annotations

import hmac

from starlette.routing import Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BodyTooLarge
from ..gate import Gate, Requirement
from ..idempotency import IdempotencyClaim
from ..outcomes import Admitted, Denied, denial
from . import idempotency
from .problems import admitted_headers, send_denial
from .routing import RouteTable

__all__ = ["OUTCOME", "GateMiddleware"]

_WARMUP_HEADER = b"x-tiergate-warmup"
OUTCOME = "tiergate.outcome"  # scope["state"][OUTCOME]: the Admitted or Denied, for metrics


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
        # Starlette builds its middleware on the first request, when the app's routes are
        # declared: each route's requirement is read once, here, not per request.
        self._routes = RouteTable(router, prefix)
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
        route = self._routes.gated(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        need = route.requirement
        claim: IdempotencyClaim | None = None
        if (value := headers.get(b"idempotency-key")) is not None:
            length = _str(headers.get(b"content-length", b""))
            keyed = await _keyed(scope, receive, send, route.template, need, value, length)
            if keyed is None:
                return  # answered already (413), or the client went away
            claim, receive = keyed
        outcome = await self._gate.admit(
            _text(headers.get(b"x-api-key")), need, claim, route=route.template
        )
        scope.setdefault("state", {})[OUTCOME] = outcome
        if isinstance(outcome, Denied):
            await send_denial(send, outcome)
            return
        await self._serve(outcome, scope, receive, send)

    async def _serve(self, admitted: Admitted, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["tiergate"] = admitted
        extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in admitted_headers(admitted)]
        if admitted.replay is not None:
            await idempotency.send_copy(send, admitted.replay, extra)
            return
        recorder = idempotency.ResponseRecorder()
        copying = bool(admitted.idempotency_key)

        async def send_with_limits(message: Message) -> None:
            if copying or message["type"] == "http.response.start":
                recorder.saw(message)
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_limits)
        finally:
            response = recorder.copy() if copying else None
            await self._gate.settle(admitted, recorder.status, response)

    def _is_warmup(self, headers: dict[bytes, bytes]) -> bool:
        given = headers.get(_WARMUP_HEADER)
        if not (self._warmup_secret and given):
            return False
        return hmac.compare_digest(given, self._warmup_secret)


async def _keyed(
    scope: Scope,
    receive: Receive,
    send: Send,
    route: str,
    need: Requirement,
    value: bytes,
    content_length: str,
) -> tuple[IdempotencyClaim, Receive] | None:
    """Read the body of a request with an Idempotency-Key (its fingerprint needs it), and a
    receive that hands it to the app again.

    This read comes before the store has vouched for the key (the fingerprint goes into the
    same call that decides), so it is bounded: a declared length over the bound is refused
    unread, and a stream stops at the first chunk past it."""
    try:
        body = await idempotency.read_body(receive, content_length)
    except BodyTooLarge:
        too_large = denial("idempotency-body-too-large")
        scope.setdefault("state", {})[OUTCOME] = too_large
        await send_denial(send, too_large)
        return None
    if body is None:
        return None  # the client went away: nobody to answer, nothing to charge
    claim = idempotency.claim(scope, route, need.cost, _str(value), body)
    return claim, idempotency.refeed(body, receive)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        found.setdefault(name, value)  # the first of repeated headers wins
    return found


def _text(value: bytes | None) -> str | None:
    return None if value is None else _str(value)


def _str(value: bytes) -> str:
    return value.decode("latin-1")
