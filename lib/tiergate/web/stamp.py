"""A response on its way out, stamped with the request's id: the ``X-Request-Id`` header on
every answer, and a ``request_id`` member (an RFC 9457 extension) in every problem+json body,
so that the id a customer quotes in a support request is the one in the logs."""

from __future__ import annotations

import json
from itertools import chain
from typing import Any

from starlette.types import Message, Scope, Send

__all__ = ["HEADERS", "REPLY", "StampedReply", "first_headers"]

# scope["state"] entries the observability middleware sets for the gate inside it, so that a
# gated request's headers are scanned once and its response goes through one send wrapper:
HEADERS = "tiergate.headers"  # the request's headers, the first of each name
REPLY = "tiergate.reply"  # the request's StampedReply

_REQUEST_ID = b"x-request-id"
_PROBLEM_JSON = b"application/problem+json"
_REWRITE_MAX = 64 * 1024  # larger problem bodies pass unchanged (none of tiergate's come close)


class StampedReply:
    """Wraps the ASGI `send` of one request. A problem's start is held until its body is
    complete, so the body can gain its member and the Content-Length its new size."""

    __slots__ = ("_body_bytes", "_chunks", "_head", "_held", "_id_bytes", "_request_id",
                 "_rewrite", "_send", "committed", "extra", "status")  # fmt: skip

    def __init__(self, send: Send, request_id: str, *, rewrite: bool) -> None:
        self._send = send
        self._request_id = request_id
        self._id_bytes = request_id.encode("latin-1")
        # Header fields added to the response's start (the gate's RateLimit fields), before
        # X-Request-Id: what would otherwise take a send wrapper of its own.
        self.extra: list[tuple[bytes, bytes]] = []
        self._rewrite = rewrite
        self.committed = False  # a response start has gone to the server: no turning back
        self.status = 500  # what the access log says if no response ever started
        self._held: Message | None = None  # a problem's start, until its whole body is here
        self._chunks: list[bytes] = []
        self._head: list[tuple[bytes, bytes]] | None = None  # the header fields as sent
        self._body_bytes = 0

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            if self._held is None:
                self._body_bytes += len(message.get("body", b""))
                await self._send(message)
                return
            self._chunks.append(message.get("body", b""))
            body = b"".join(self._chunks)
            if message.get("more_body", False):
                if len(body) <= _REWRITE_MAX:
                    return
                await self._release(body, more=True)  # too large to rewrite: as it is
                return
            await self._release(_with_request_id(body, self._request_id), more=False)
            return
        if kind == "http.response.start":
            self.status = message["status"]
            headers = []
            problem = False
            for name, value in message.get("headers", ()):  # one pass, on every response
                lower = name.lower()
                if lower == _REQUEST_ID:
                    continue
                if lower == b"content-type" and value.startswith(_PROBLEM_JSON):
                    problem = True
                headers.append((name, value))
            if self.extra:
                headers += self.extra
            headers.append((_REQUEST_ID, self._id_bytes))
            message = {**message, "headers": headers}
            if self._rewrite and problem:
                self._held = message
                return
            self.committed = True
            self._head = headers
        await self._send(message)

    async def problem(self, body: dict[str, Any]) -> None:
        """Send a problem of our own (the key-in-query 401, the crash 500)."""
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = [(b"content-type", _PROBLEM_JSON), (b"content-length", b"%d" % len(content))]
        await self.send(
            {"type": "http.response.start", "status": body["status"], "headers": headers}
        )
        await self.send({"type": "http.response.body", "body": content})

    def discard(self) -> None:
        self._held, self._chunks = None, []

    async def _release(self, body: bytes, *, more: bool) -> None:
        held, self._held, self._chunks = self._held, None, []
        assert held is not None
        self.committed = True
        if not more:
            headers = [(k, v) for k, v in held["headers"] if k.lower() != b"content-length"]
            held = {**held, "headers": [*headers, (b"content-length", b"%d" % len(body))]}
        last = {"type": "http.response.body", "body": body, "more_body": more}
        self._head = held["headers"]
        self._body_bytes += len(body)
        await self._send(held)
        await self._send(last)

    @property
    def sent_bytes(self) -> int:
        """Status line, header fields and body as sent: the response's egress, worked out
        when asked (a measured request asks, once). The fields count as HTTP/1.1 frames
        them: the status line (about 17 bytes), "name: value" and CRLF each, the blank line;
        the server's own date and server fields are not among them."""
        head = self._head
        if head is None:
            return self._body_bytes
        return 19 + sum(map(len, chain.from_iterable(head))) + 4 * len(head) + self._body_bytes


def first_headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by name; the first of repeated headers wins."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name not in found:
            found[name] = value
    return found


def _with_request_id(body: bytes, request_id: str) -> bytes:
    try:
        problem = json.loads(body)
    except ValueError:
        return body
    if not isinstance(problem, dict) or "request_id" in problem:
        return body
    problem["request_id"] = request_id
    return json.dumps(problem, ensure_ascii=False).encode("utf-8")
