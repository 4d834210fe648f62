"""A small HTTP/1.1 server for one ASGI app: what the local Upstash server runs on.

Profiled behind uvicorn, the REST server spent most of its CPU per call in uvicorn's h11
protocol and in its two socket writes per response (the head, then the body); on loopback a
write costs the sender the receiver's network stack too. This serves the same ASGI app
with one read loop per connection and one write per response. It does only what Upstash
clients send: requests with a Content-Length body (or none), keep-alive, no chunked request
bodies (501), no upgrades. The app's lifespan runs around the serving, as under uvicorn.

For anything else (the tests' Stripe stand-in, the benchmarks' wrappers) uvicorn still
serves: this is no general-purpose server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from starlette.types import ASGIApp, Message

__all__ = ["serve"]

_log = logging.getLogger(__name__)
_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024  # far above any command a client sends; bounds the memory
_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 405: b"Method Not Allowed",
            413: b"Content Too Large", 500: b"Internal Server Error", 501: b"Not Implemented",
            503: b"Service Unavailable"}  # fmt: skip


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def serve(
    app: ASGIApp,
    sock: socket.socket,
    stop: asyncio.Event,
    started: Callable[[], object] = lambda: None,
) -> None:
    """Serve `app` on the listening `sock` until `stop` is set; lifespan around it.

    `started` is called once the app has started and connections are accepted.
    """
    lifespan = _Lifespan(app)
    await lifespan.startup()
    try:
        server = await asyncio.start_server(
            lambda r, w: _Connection(app, r, w).run(), sock=sock, limit=_MAX_HEAD
        )
        async with server:
            started()
            await stop.wait()
    finally:
        await lifespan.shutdown()


class _Connection:
    def __init__(self, app: ASGIApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._app, self._reader, self._writer = app, reader, writer
        self._server = _address(writer.get_extra_info("sockname"))
        self._client = _address(writer.get_extra_info("peername"))

    async def run(self) -> None:
        try:
            while await self._one_request():
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            # The client hung up mid-request (its own timeout, most likely): nobody to answer.
            _log.debug("client %s disconnected mid-request", self._client)
        except _Refused as exc:
            self._writer.write(_response(exc.status, b'{"error":"ERR %s"}' % str(exc).encode()))
        except asyncio.LimitOverrunError:
            self._writer.write(_response(400, b'{"error":"ERR request head too large"}'))
        except Exception:  # a bug in the app: say it once, answer 500, keep serving others
            _log.exception("the app failed on a request from %s", self._client)
            self._writer.write(_response(500, b'{"error":"ERR internal error"}'))
        finally:
            self._writer.close()

    async def _one_request(self) -> bool:
        """Read, answer and write one request; whether the connection stays open."""
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            return False  # closed between requests: the normal end of a keep-alive
        method, target, version, headers = _parse_head(head)
        if any(name == b"transfer-encoding" for name, _ in headers):
            raise _Refused(501, "chunked request bodies are not supported; send Content-Length")
        lengths = {value for name, value in headers if name == b"content-length"}
        if len(lengths) > 1 or not all(v.isdigit() for v in lengths):
            raise _Refused(400, "bad Content-Length")
        length = int(lengths.pop()) if lengths else 0
        if length > _MAX_BODY:
            raise _Refused(413, f"request body over {_MAX_BODY} bytes")
        body = await self._reader.readexactly(length) if length else b""
        path, _, query = target.partition(b"?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": version,
            "method": method, "scheme": "http", "path": unquote(path.decode("latin-1")),
            "raw_path": path, "query_string": query, "root_path": "", "headers": headers,
            "server": self._server, "client": self._client,
        }  # fmt: skip
        reply = _Reply()
        await self._app(scope, _receiver(body, self._reader), reply.send)
        closes = any(n == b"connection" and b"close" in v.lower() for n, v in headers)
        keep_alive = version == "1.1" and not closes
        self._writer.write(reply.encode(keep_alive))
        await self._writer.drain()
        return keep_alive


def _parse_head(head: bytes) -> tuple[str, bytes, str, list[tuple[bytes, bytes]]]:
    request_line, *lines = head[:-4].split(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise _Refused(400, "not an HTTP/1.1 request line")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise _Refused(400, "malformed header line")
        headers.append((name.lower(), value.strip()))
    return parts[0].decode("ascii", "replace"), parts[1], parts[2][5:].decode(), headers


def _receiver(body: bytes, reader: asyncio.StreamReader) -> Callable[[], Awaitable[Message]]:
    """ASGI's receive: the whole body at once, then (if asked again) the disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        with contextlib.suppress(ConnectionError):
            await reader.read()  # waits until the client goes; requests are not pipelined
        return {"type": "http.disconnect"}

    return receive


class _Reply:
    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body.append(message.get("body", b""))

    def encode(self, keep_alive: bool) -> bytes:
        body = b"".join(self.body)
        head = [b"HTTP/1.1 %d %s" % (self.status, _REASONS.get(self.status, b""))]
        head += [b"%s: %s" % h for h in self.headers if h[0].lower() != b"content-length"]
        head.append(b"content-length: %d" % len(body))
        if not keep_alive:
            head.append(b"connection: close")
        return b"\r\n".join(head) + b"\r\n\r\n" + body


def _response(status: int, body: bytes) -> bytes:
    reply = _Reply()
    reply.status = status
    reply.headers = [(b"content-type", b"application/json")]
    reply.body = [body]
    return reply.encode(keep_alive=False)


def _address(address: object) -> tuple[str, int] | None:
    if isinstance(address, tuple) and len(address) >= 2:
        return str(address[0]), int(address[1])
    return None


class _Lifespan:
    """Runs the app's lifespan protocol: startup before serving, shutdown after."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        self._task = asyncio.ensure_future(
            self._app({"type": "lifespan", "asgi": {"version": "3.0"}}, self._inbox.get,
                      self._outbox.put)
        )  # fmt: skip
        await self._exchange("lifespan.startup")

    async def shutdown(self) -> None:
        if self._task is not None and not self._task.done():
            await self._exchange("lifespan.shutdown")
            await self._task

    async def _exchange(self, kind: str) -> None:
        await self._inbox.put({"type": kind})
        assert self._task is not None
        answer = asyncio.ensure_future(self._outbox.get())
        await asyncio.wait([answer, self._task], return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            self._task.result()  # the app raised: say what
            raise RuntimeError(f"the app ended its lifespan without answering {kind}")
        message = answer.result()
        if message["type"] != f"{kind}.complete":
            raise RuntimeError(f"the app's lifespan answered {message}")
