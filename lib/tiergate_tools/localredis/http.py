"""A small HTTP/1.1 server for one ASGI app: what the local Upstash server runs on.

The protocol is h11's (the state machine uvicorn and httpcore use): HEAD answered without a
body, chunked request bodies, ``Expect: 100-continue`` answered as soon as the body is
awaited, pipelined requests in order, keep-alive, 400/413/431 for what it will not take.
Around it, what made this faster than the same app under uvicorn: one read loop per
connection, the app's whole answer buffered and written with one write (on loopback each
write costs the sender the receiver's network stack too), no access log, no per-request
tasks. The app's lifespan runs around the serving, as under uvicorn.

For anything else (the tests' Stripe stand-in, the benchmarks' wrappers) uvicorn still
serves: this is no general-purpose server (no upgrades, no streamed responses).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http
import logging
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

import h11
from starlette.types import ASGIApp, Message

__all__ = ["serve"]

_log = logging.getLogger(__name__)
_MAX_HEAD = 64 * 1024  # the request line and headers; past it (and a read), 431
_MAX_BODY = 64 * 1024 * 1024  # far above any command a client sends; bounds the memory
_READ = 256 * 1024  # while reading a body
_HEAD_READ = 16 * 1024  # while reading a head: the most it can pass _MAX_HEAD by
_JSON = [(b"content-type", b"application/json")]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Gone(Exception):
    """The client hung up before its request was whole."""


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
            lambda r, w: _Connection(app, r, w).run(), sock=sock, limit=_READ
        )
        async with server:
            started()
            await stop.wait()
    finally:
        await lifespan.shutdown()


class _Connection:
    def __init__(self, app: ASGIApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._app, self._reader, self._writer = app, reader, writer
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        self._method = b""  # the current request's, once its head is in
        self._server = _address(writer.get_extra_info("sockname"))
        self._client = _address(writer.get_extra_info("peername"))

    async def run(self) -> None:
        try:
            while await self._one_request():
                self._h11.start_next_cycle()
        except (_Gone, ConnectionError):
            # The client hung up mid-request (its own timeout, most likely): nobody to answer.
            _log.debug("client %s disconnected mid-request", self._client)
        except h11.RemoteProtocolError as exc:
            self._refuse(exc.error_status_hint, str(exc))
        except _Refused as exc:
            self._refuse(exc.status, str(exc))
        except Exception:  # a bug in the app: say it once, answer 500, keep serving others
            _log.exception("the app failed on a request from %s", self._client)
            self._refuse(500, "internal error")
        finally:
            self._writer.close()

    async def _one_request(self) -> bool:
        """Read, answer and write one request; whether the connection stays open."""
        request = await self._next_event()
        if type(request) is h11.ConnectionClosed:
            return False  # closed between requests: the normal end of a keep-alive
        assert type(request) is h11.Request
        self._method = request.method
        body = await self._body(request)
        path, _, query = request.target.partition(b"?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"},
            "http_version": request.http_version.decode(), "method": request.method.decode(),
            "scheme": "http", "path": unquote(path.decode("latin-1")), "raw_path": path,
            "query_string": query, "root_path": "", "headers": list(request.headers),
            "server": self._server, "client": self._client,
        }  # fmt: skip
        reply = _Reply()
        await self._app(scope, _receiver(body, reply.complete), reply.send)
        head_only = self._method == b"HEAD"
        self._writer.write(self._encode(reply.status, reply.headers, reply.body(), head_only))
        await self._writer.drain()
        return self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE

    async def _body(self, request: h11.Request) -> bytes:
        """The request body, whichever its framing; 413 past `_MAX_BODY`, before reading it."""
        length = _content_length(request)
        if length is not None and length > _MAX_BODY:
            raise _Refused(413, f"request body over {_MAX_BODY} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._next_event()
            if type(event) is h11.EndOfMessage:
                return b"".join(chunks)
            assert type(event) is h11.Data
            size += len(event.data)
            if size > _MAX_BODY:  # chunked: the length is only known as it comes
                raise _Refused(413, f"request body over {_MAX_BODY} bytes")
            chunks.append(event.data)

    async def _next_event(self) -> h11.Event:
        while (event := self._h11.next_event()) is h11.NEED_DATA:
            if self._h11.they_are_waiting_for_100_continue:
                # Answered once the body is awaited, never for a request refused before it.
                self._writer.write(
                    self._h11.send(
                        h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
                    )
                )
            # h11 bounds only what it has not parsed yet: a head read whole in one large read
            # would pass whatever its size, hence small reads until the head is in.
            idle = self._h11.their_state is h11.IDLE
            data = await self._reader.read(_HEAD_READ if idle else _READ)
            if not data and (self._h11.their_state is not h11.IDLE or self._h11.trailing_data[0]):
                raise _Gone  # mid-request; at a request's boundary, h11 says ConnectionClosed
            self._h11.receive_data(data)
        assert event is not h11.PAUSED  # only ever asked for within one cycle
        return event  # type: ignore[return-value]  # NEED_DATA and PAUSED are ruled out

    def _encode(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, head_only: bool
    ) -> bytes:
        """One response's bytes, head and body, for a single write.

        To HEAD, the headers a GET would get (its Content-Length too) and no body: RFC 9110
        9.3.2, which h11 enforces (it frames a HEAD response as empty).
        """
        sent = [h for h in headers if h[0].lower() != b"content-length"]
        sent.append((b"content-length", b"%d" % len(body)))
        response = h11.Response(status_code=status, headers=sent, reason=_reason(status))
        out = [self._h11.send(response)]
        if not head_only:
            out.append(self._h11.send(h11.Data(data=body)))
        out.append(self._h11.send(h11.EndOfMessage()))
        return b"".join(out)

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request we will not serve, if no answer has begun; the connection closes."""
        if self._h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = b'{"error":"ERR %s"}' % message.encode("ascii", "replace")
        head_only = self._h11.our_state is h11.SEND_RESPONSE and self._method == b"HEAD"
        headers = [*_JSON, (b"connection", b"close")]
        with contextlib.suppress(h11.LocalProtocolError, ConnectionError):
            self._writer.write(self._encode(status, headers, body, head_only))


def _content_length(request: h11.Request) -> int | None:
    for name, value in request.headers:
        if name == b"content-length":
            return int(value)  # h11 checked it is one number
    return None


@functools.cache
def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _receiver(body: bytes, complete: asyncio.Event) -> Callable[[], Awaitable[Message]]:
    """ASGI's receive: the whole body at once; asked again, the disconnect once answered."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # The connection is not read while the app runs (a pipelined request waits its
        # turn), so the end of this request is its answer.
        await complete.wait()
        return {"type": "http.disconnect"}

    return receive


class _Reply:
    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.complete = asyncio.Event()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.complete.set()

    def body(self) -> bytes:
        return b"".join(self.chunks)


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
