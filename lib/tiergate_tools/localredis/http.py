"""A small HTTP/1.1 server for one ASGI app: what the local Upstash server runs on.

Profiled behind uvicorn, the REST server spent most of its CPU per call in uvicorn's h11
protocol and in its two socket writes per response (the head, then the body); on loopback a
write costs the sender the receiver's network stack too. This serves the same ASGI app with
one read loop per connection, the app's whole answer buffered and written with one write,
and the protocol of wire.py: keep-alive, pipelined requests answered in order,
Content-Length or chunked request bodies, ``Expect: 100-continue`` answered as soon as the
body is awaited, HEAD answered without a body. No upgrades, no streamed responses. The
app's lifespan runs around the serving, as under uvicorn.

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

from .wire import CONTINUE, MAX_HEAD, Refused, encode, read_body, read_head

__all__ = ["serve"]

_log = logging.getLogger(__name__)
_JSON = [(b"content-type", b"application/json")]


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
            lambda r, w: _Connection(app, r, w).run(), sock=sock, limit=MAX_HEAD
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
        self._head_only = False  # the current request is a HEAD: its answers have no body

    async def run(self) -> None:
        try:
            while await self._one_request():
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            # The client hung up mid-request (its own timeout, most likely): nobody to answer.
            _log.debug("client %s disconnected mid-request", self._client)
        except Refused as exc:
            self._refuse(exc.status, str(exc))
        except Exception:  # a bug in the app: say it once, answer 500, keep serving others
            _log.exception("the app failed on a request from %s", self._client)
            self._refuse(500, "internal error")
        finally:
            self._writer.close()

    async def _one_request(self) -> bool:
        """Read, answer and write one request; whether the connection stays open."""
        self._head_only = False
        head = await read_head(self._reader)
        if head is None:
            return False
        self._head_only = head.method == b"HEAD"
        if head.expects_continue:
            # At once, before waiting for the body: curl otherwise waits a second for this.
            # Never for a request refused on its head (it raised above).
            self._writer.write(CONTINUE)
        body = await read_body(head, self._reader)
        path, _, query = head.target.partition(b"?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": head.version,
            "method": head.method.decode("ascii", "replace"), "scheme": "http",
            "path": unquote(path.decode("latin-1")), "raw_path": path, "query_string": query,
            "root_path": "", "headers": head.headers,
            "server": self._server, "client": self._client,
        }  # fmt: skip
        reply = _Reply()
        await self._app(scope, _receiver(body, reply.complete), reply.send)
        data = encode(reply.status, reply.headers, reply.body(), keep_alive=head.keep_alive,
                      head_only=self._head_only)  # fmt: skip
        self._writer.write(data)
        await self._writer.drain()
        return head.keep_alive

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request this server will not serve; the connection then closes."""
        body = b'{"error":"ERR %s"}' % message.encode("ascii", "replace")
        with contextlib.suppress(ConnectionError):
            self._writer.write(
                encode(status, _JSON, body, keep_alive=False, head_only=self._head_only)
            )


def _receiver(body: bytes, complete: asyncio.Event) -> Callable[[], Awaitable[Message]]:
    """ASGI's receive: the whole body at once; asked again, the disconnect once answered."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # The connection is not read while the app runs (a pipelined request waits its
        # turn, unread), so for the app this request ends with its answer.
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
