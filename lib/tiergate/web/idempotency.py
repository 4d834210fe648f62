"""The ASGI side of `Idempotency-Key`: read the body for the fingerprint and feed it again,
copy the endpoint's answer for the store, and send a kept answer again."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from ..idempotency import (
    MAX_FINGERPRINTED_BODY,
    MAX_KEPT_RESPONSE,
    IdempotencyClaim,
    ResponseCopy,
    fingerprint,
    kept_headers,
)
from .bodies import read_stream

__all__ = ["ResponseRecorder", "claim", "read_body", "refeed", "send_copy"]


async def read_body(receive: Receive, content_length: str) -> bytes | None:
    """The whole request body; None when the client went away first. BodyTooLarge past
    MAX_FINGERPRINTED_BODY, before reading any of it when Content-Length says so."""
    try:
        return await read_stream(receive, MAX_FINGERPRINTED_BODY, content_length)
    except ClientDisconnect:
        return None


def refeed(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body read already, then whatever the client sends."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def again() -> Message:
        return pending.pop() if pending else await receive()

    return again


def claim(scope: Scope, route_path: str, cost: int, value: str, body: bytes) -> IdempotencyClaim:
    query = scope.get("query_string", b"").decode("latin-1")
    found = fingerprint(scope["method"], route_path, scope["path"], query, cost, body)
    return IdempotencyClaim(value, found)


@dataclass(slots=True)
class ResponseRecorder:
    """Copies what the app sends, up to what the store may keep, while it goes out."""

    status: int = 500  # what the bill sees if the app fails before starting a response
    _headers: tuple[tuple[str, str], ...] = ()
    _chunks: list[bytes] = field(default_factory=list)
    _size: int = 0
    _whole: bool = False  # the last body message went out

    def saw(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self._headers = kept_headers(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunk: bytes = message.get("body", b"")
            self._size += len(chunk)
            if self._size <= MAX_KEPT_RESPONSE:
                self._chunks.append(chunk)
            else:
                self._chunks.clear()
            self._whole = not message.get("more_body", False)

    def copy(self) -> ResponseCopy | None:
        """The whole answer, or None when it was cut short or is too large to keep."""
        if not self._whole or self._size > MAX_KEPT_RESPONSE:
            return None
        return ResponseCopy(self.status, self._headers, b"".join(self._chunks))


async def send_copy(send: Send, copy: ResponseCopy, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in copy.headers]
    headers += [
        (b"content-length", str(len(copy.body)).encode()),
        (b"idempotent-replayed", b"true"),  # Stripe's name for it
        *extra,
    ]
    await send({"type": "http.response.start", "status": copy.status, "headers": headers})
    await send({"type": "http.response.body", "body": copy.body})
