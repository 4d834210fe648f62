"""The gate as pure ASGI middleware: it sees the matched route, the key and the final status.

It runs before routing's dependencies (so a denied request costs the app nothing), adds the
RateLimit fields to the response, and settles the bill once the status is known. With an
`Idempotency-Key` it reads the body first (the fingerprint needs it), answers a replay from
the store without running the app, and copies a first answer for the store.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.routing import Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BodyTooLarge
from ..gate import Gate, Requirement
from ..idempotency import IdempotencyClaim
from ..outcomes import Admitted, Denied, denial
from . import idempotency
from .problems import send_denial
from .ratelimit import ratelimit_fields
from .routing import RouteTable
from .stamp import HEADERS, REPLY, StampedReply, first_headers

__all__ = ["OUTCOME", "GateMiddleware"]

_WARMUP_HEADER = b"x-tiergate-warmup"
OUTCOME = "tiergate.outcome"  # scope["state"][OUTCOME]: the Admitted or Denied, for metrics
ROUTE = "tiergate.route"  # scope["state"][ROUTE]: the gated route's template


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
        state = scope.setdefault("state", {})
        # Scanned once per request: by the observability middleware around this one, if any.
        headers: dict[bytes, bytes] | None = state.get(HEADERS)
        if headers is None:
            headers = first_headers(scope)
        if self._warmup_secret is not None and self._is_warmup(headers):
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        route = self._routes.gated(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        need = route.requirement
        state[ROUTE] = route.template  # for the cost metrics
        claim: IdempotencyClaim | None = None
        if (value := headers.get(b"idempotency-key")) is not None:
            length = _str(headers.get(b"content-length", b""))
            keyed = await _keyed(scope, receive, send, route.template, need, value, length)
            if keyed is None:
                return  # answered already (413), or the client went away
            claim, receive = keyed
        raw_key = headers.get(b"x-api-key")
        outcome = await self._gate.admit(
            None if raw_key is None else raw_key.decode("latin-1"), need, claim,
            route=route.template,
        )  # fmt: skip
        state[OUTCOME] = outcome
        if isinstance(outcome, Denied):
            await send_denial(send, outcome)
            return
        await self._serve(outcome, state, scope, receive, send)

    async def _serve(
        self, admitted: Admitted, state: dict[str, Any], scope: Scope, receive: Receive, send: Send
    ) -> None:
        state["tiergate"] = admitted
        extra = [] if admitted.degraded else ratelimit_fields(admitted.verdict, admitted.now_ms)
        if admitted.replay is not None:
            await idempotency.send_copy(send, admitted.replay, extra)
            return
        if admitted.idempotency_key:  # the answer is copied for the key's replays
            await self._serve_copied(admitted, scope, receive, send, extra)
            return
        reply = state.get(REPLY)
        if isinstance(reply, StampedReply) and send == reply.send:
            # Straight under the observability middleware: its send wrapper adds the fields
            # with X-Request-Id, and records the status.
            reply.extra = extra
            try:
                await self.app(scope, receive, send)
            finally:
                await self._gate.settle(admitted, reply.status, None)
            return
        sent = _Status()

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent.status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_limits)
        finally:
            await self._gate.settle(admitted, sent.status, None)

    async def _serve_copied(
        self,
        admitted: Admitted,
        scope: Scope,
        receive: Receive,
        send: Send,
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        recorder = idempotency.ResponseRecorder()

        async def send_recorded(message: Message) -> None:
            recorder.saw(message)
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_recorded)
        finally:
            await self._gate.settle(admitted, recorder.status, recorder.copy())

    def _is_warmup(self, headers: dict[bytes, bytes]) -> bool:
        given = headers.get(_WARMUP_HEADER)
        if not (self._warmup_secret and given):
            return False
        return hmac.compare_digest(given, self._warmup_secret)


class _Status:
    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status = 500  # what the bill sees if the app fails before starting a response


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


def _str(value: bytes) -> str:
    return value.decode("latin-1")
