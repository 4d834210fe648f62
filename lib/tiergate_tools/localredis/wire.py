"""HTTP/1.1 on the wire for the local server: a request's head and body in, a response out.

Written here rather than taken from h11 for its CPU: under the same app and load, h11 made
the server cost 1.6x per request (`python -m bench.localserver`; h11 validates every header
with a regular expression and runs a state machine per event). What it takes of RFC 9112
is what a server must: Content-Length or chunked bodies (with trailers, skipped), Host
required, one framing only, HTTP/1.0 and 1.1, and a clear 400/413/431/501 for the rest.
"""

from __future__ import annotations

import asyncio
import re

__all__ = [
    "CONTINUE",
    "MAX_BODY",
    "MAX_HEAD",
    "Head",
    "Refused",
    "encode",
    "read_body",
    "read_head",
]

MAX_HEAD = 64 * 1024  # the request line and headers; a chunked body's trailers likewise
MAX_BODY = 64 * 1024 * 1024  # far above any command a client sends; bounds the memory
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")  # 15 hex digits: well past MAX_BODY already
_REASONS = {100: b"Continue", 200: b"OK", 400: b"Bad Request", 401: b"Unauthorized",
            405: b"Method Not Allowed", 413: b"Content Too Large",
            431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
            501: b"Not Implemented", 503: b"Service Unavailable"}  # fmt: skip
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Refused(Exception):
    """A request this server will not take: answered with `status`, then the connection
    closes (what follows it on the connection cannot be trusted to start a request)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Head:
    """A request's line and headers (names lower-cased), and how its body is framed."""

    __slots__ = ("chunked", "expects_continue", "headers", "keep_alive", "length", "method",
                 "target", "version")  # fmt: skip

    def __init__(self, data: bytes) -> None:
        request_line, *lines = data[:-4].split(b"\r\n")
        parts = request_line.split(b" ")
        if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
            raise Refused(400, "not an HTTP/1.1 request line")
        self.method, self.target = parts[0], parts[1]
        self.version = parts[2][5:].decode()
        self.headers: list[tuple[bytes, bytes]] = []
        fields: dict[bytes, list[bytes]] = {}  # the few that say how to read the request
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():  # obs-fold too (RFC 9112 5.2)
                raise Refused(400, "malformed header line")
            name, value = name.lower(), value.strip()
            self.headers.append((name, value))
            if name in _FRAMING:
                fields.setdefault(name, []).append(value)
        self.keep_alive = self.version == "1.1" and not any(
            b"close" in v.lower() for v in fields.get(b"connection", [])
        )
        if self.version == "1.1" and len(fields.get(b"host", [])) != 1:
            raise Refused(400, "an HTTP/1.1 request has one Host header")  # RFC 9112 3.2
        self.chunked, self.length = _framing(fields)
        self.expects_continue = (
            self.version == "1.1"  # an HTTP/1.0 expectation is ignored (RFC 9110 10.1.1)
            and (self.chunked or self.length > 0)
            and any(v.lower() == b"100-continue" for v in fields.get(b"expect", []))
        )


_FRAMING = frozenset((b"connection", b"content-length", b"expect", b"host", b"transfer-encoding"))


def _framing(fields: dict[bytes, list[bytes]]) -> tuple[bool, int]:
    """(chunked, Content-Length): RFC 9112 6.1-6.3, refusing what could be read two ways."""
    codings = b",".join(fields.get(b"transfer-encoding", []))
    lengths = set(b",".join(fields.get(b"content-length", [])).split(b",")) - {b""}
    if codings:
        if lengths:
            raise Refused(400, "both Transfer-Encoding and Content-Length")
        if [c.strip().lower() for c in codings.split(b",")] != [b"chunked"]:
            raise Refused(501, "the only transfer coding taken is chunked")
        return True, 0
    lengths = {v.strip() for v in lengths}
    if len(lengths) > 1 or not all(v.isdigit() for v in lengths):
        raise Refused(400, "bad Content-Length")
    length = int(lengths.pop()) if lengths else 0
    if length > MAX_BODY:
        raise Refused(413, f"request body over {MAX_BODY} bytes")
    return False, length


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """The next request's head; None if the client closed between requests."""
    try:
        data = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise  # gone mid-head
        return None  # the normal end of a keep-alive connection
    except asyncio.LimitOverrunError:
        raise Refused(431, "request head too large") from None
    return Head(data)


async def read_body(head: Head, reader: asyncio.StreamReader) -> bytes:
    if not head.chunked:
        return await reader.readexactly(head.length) if head.length else b""
    chunks: list[bytes] = []
    size = 0
    while True:
        line = await _line(reader)
        size_text = line.partition(b";")[0].strip()  # chunk extensions are ignored
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise Refused(400, "bad chunk size")
        chunk_size = int(size_text, 16)
        if chunk_size == 0:
            break
        size += chunk_size
        if size > MAX_BODY:
            raise Refused(413, f"request body over {MAX_BODY} bytes")
        chunks.append(await reader.readexactly(chunk_size))
        if await reader.readexactly(2) != b"\r\n":
            raise Refused(400, "a chunk longer than its size")
    trailers = 0
    while line := await _line(reader):  # trailer fields, up to the empty line; not kept
        trailers += len(line)
        if trailers > MAX_HEAD:
            raise Refused(431, "trailers too large")
    return b"".join(chunks)


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return (await reader.readuntil(b"\r\n"))[:-2]
    except asyncio.LimitOverrunError:
        raise Refused(400, "a chunked body's line too long") from None


def encode(
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    *,
    keep_alive: bool,
    head_only: bool = False,
) -> bytes:
    """A response's bytes, for one write. Content-Length is the body's, whatever the app
    said; to HEAD, the headers a GET would get and no body (RFC 9110 9.3.2)."""
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b""))]
    lines += [b"%s: %s" % h for h in headers if h[0].lower() != b"content-length"]
    lines.append(b"content-length: %d" % len(body))
    if not keep_alive:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head_only else body)
