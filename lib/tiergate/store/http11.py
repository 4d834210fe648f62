"""Parse one HTTP/1.1 response from the bytes received so far (no I/O here).

Each connection of the lean pool (`connection.py`) feeds whatever arrived on the socket to
`parse_response` until it answers a complete response. Only what a client of a JSON API
meets is handled: Content-Length and chunked bodies, bodies delimited by the connection
closing, 1xx interim responses skipped, no body for HEAD, 204 and 304. Anything else is a
`ProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_HEAD", "ParsedResponse", "ProtocolError", "parse_response"]

# A status line and headers longer than this are not a JSON API's answer.
MAX_HEAD = 64 * 1024


class ProtocolError(Exception):
    """The bytes are not an HTTP/1.1 response this parser accepts."""


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool  # whether the connection may carry the next request
    consumed: int  # bytes of the buffer this response used


def parse_response(data: bytes | bytearray, *, head: bool, eof: bool) -> ParsedResponse | None:
    """The response at the start of `data`, or None if more bytes are needed.

    `head`: the request was HEAD (no body follows). `eof`: the peer closed the connection,
    so no more bytes will come (a body without a length ends here).
    """
    start = 0
    while True:
        end = data.find(b"\r\n\r\n", start)
        if end < 0:
            if len(data) - start > MAX_HEAD:
                raise ProtocolError("response head too large")
            _incomplete(eof)
            return None
        status, reason, headers, version = _parse_head(bytes(data[start:end]))
        body_start = end + 4
        if 100 <= status < 200 and status != 101:
            start = body_start  # an interim response (100 Continue, 103 Early Hints)
            continue
        break
    closes, chunked = False, False
    lengths: list[bytes] = []
    for key, value in headers:  # one pass for the three headers that frame the body
        name = key.lower()
        if name == b"content-length":
            lengths.append(value)
        elif name == b"transfer-encoding":
            chunked = chunked or b"chunked" in value.lower()
        elif name == b"connection":
            closes = closes or b"close" in value.lower()
    keep_alive = version == b"HTTP/1.1" and not closes
    if head or status in (204, 304):
        return ParsedResponse(status, reason, headers, b"", keep_alive, body_start)
    if chunked:
        whole = _parse_chunked(data, body_start)
        if whole is None:
            _incomplete(eof)
            return None
        body, consumed = whole
        return ParsedResponse(status, reason, headers, body, keep_alive, consumed)
    if lengths:
        length = _content_length(lengths)
        if len(data) - body_start < length:
            _incomplete(eof)
            return None
        body = bytes(data[body_start : body_start + length])
        return ParsedResponse(status, reason, headers, body, keep_alive, body_start + length)
    if not eof:
        return None  # the body runs until the server closes the connection
    return ParsedResponse(status, reason, headers, bytes(data[body_start:]), False, len(data))


def _incomplete(eof: bool) -> None:
    """None (wait for more bytes), unless no more will come."""
    if eof:
        raise ProtocolError("the server closed the connection before the response ended")


def _parse_head(head: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
    status_line, *lines = head.split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ProtocolError(f"malformed header line: {line[:80]!r}")
        headers.append((name, value.strip()))
    return int(code), reason, headers, version


def _content_length(values: list[bytes]) -> int:
    # Repeated Content-Length headers must agree (RFC 9110 §8.6), or the body is ambiguous.
    distinct = {v.strip() for value in values for v in value.split(b",")}
    if len(distinct) != 1 or not (text := distinct.pop()).isdigit():
        raise ProtocolError(f"bad Content-Length: {values!r}")
    return int(text)


def _parse_chunked(data: bytes | bytearray, pos: int) -> tuple[bytes, int] | None:
    chunks: list[bytes] = []
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size_text = bytes(data[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size: {size_text[:20]!r}") from None
        pos = line_end + 2
        if size == 0:
            break
        if len(data) < pos + size + 2:
            return None
        chunks.append(bytes(data[pos : pos + size]))
        pos += size + 2  # the chunk and its CRLF
    while True:  # trailer fields, if any, then the empty line
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return None
        empty = line_end == pos
        pos = line_end + 2
        if empty:
            return b"".join(chunks), pos
