"""A lean keep-alive HTTP/1.1 transport for httpx, for the one Upstash call per request.

The gate's only I/O on the hot path is one small JSON POST to Upstash. Through httpx's
default transport (httpcore and h11) that call cost more client CPU than the rest of the
request, and more again under concurrency; an aiohttp transport roughly halves it but adds
11 MB of dependencies and ~200 ms to a cold start. This transport is stdlib asyncio: one
`asyncio.Protocol` per connection that parses the reply as it arrives (`connection.py`,
`http11.py`), and a pool of idle connections per origin. `python -m bench` measures all
three side by side.

What it does not do, on purpose: proxies, HTTP/2, request bodies streamed in pieces (they are
read whole first), retries. A request that fails is an httpx error, and its connection is
dropped, never reused with a reply still in flight.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import deque
from contextlib import suppress

import httpx
from upstash_redis.asyncio import Redis

from .connection import Connection

__all__ = ["LeanTransport", "lean_client", "ssl_context_of", "use_client"]

_log = logging.getLogger(__name__)

_Origin = tuple[str, str, int]


def lean_client(timeout_s: float, ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    """An httpx client on `LeanTransport`; each phase of a call bounded by `timeout_s`."""
    return httpx.AsyncClient(transport=LeanTransport(ssl_context=ssl_context), timeout=timeout_s)


def ssl_context_of(redis: Redis) -> ssl.SSLContext | None:
    """The TLS context `redis`'s own httpx client made, for the lean transport to reuse.

    Building one (certifi's CA bundle loaded) takes ~50 ms, and upstash-redis's constructor
    has already paid for it; making a second one on the first request would double that cost
    of a cold start. It sits in httpx's and httpcore's private attributes, so it is looked
    for with care: None (the transport then makes its own) if it is not where expected.
    """
    client = getattr(getattr(redis, "_http", None), "_client", None)
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    context = getattr(pool, "_ssl_context", None)
    return context if isinstance(context, ssl.SSLContext) else None


def use_client(redis: Redis, client: httpx.AsyncClient) -> bool:
    """Make `redis` send its calls through `client`; False if this upstash-redis cannot.

    upstash-redis (1.x) takes no client or transport: its async `Redis` builds
    `httpx.AsyncClient(timeout=None)` in `AsyncHttpClient.__init__`, and every command,
    pipeline and transaction goes through that one object's `post` and `aclose`. Swapping
    that attribute is the one seam; it is checked here (and pinned by a test), and if a
    release moves it, the client keeps its own transport: slower, never broken.
    """
    http = getattr(redis, "_http", None)
    if not isinstance(getattr(http, "_client", None), httpx.AsyncClient):
        _log.warning("upstash-redis has no httpx client where expected; its own transport stays")
        return False
    # The replaced client holds no connection yet (nothing was sent), so dropping it leaks
    # nothing.
    http._client = client  # type: ignore[union-attr]
    return True


class LeanTransport(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 over asyncio; https verified with certifi's CAs, like httpx.

    `max_connections` bounds the open connections (requests beyond it wait, bounded by the
    request's pool timeout); an idle connection older than `keepalive_expiry` seconds is
    closed rather than reused, since servers drop idle ones and a request sent on a dropped
    connection cannot be told apart from one that ran.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
        keepalive_expiry: float = 5.0,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[_Origin, list[Connection]] = {}
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        payload = _serialise(request, await request.aread())
        head = request.method == "HEAD"
        conn = await self._acquire(origin, timeouts)
        try:
            reply = await conn.exchange(payload, head=head, read_s=timeouts.get("read"))
        except BaseException:
            conn.close()  # a reply may still be in flight: the connection is done for
            self._release(None)
            raise
        self._release(conn if reply.keep_alive else None, origin)
        return httpx.Response(
            reply.status,
            headers=reply.headers,
            stream=httpx.ByteStream(reply.body),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reply.reason},
        )

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    async def _acquire(self, origin: _Origin, timeouts: dict[str, float | None]) -> Connection:
        while True:
            idle = self._idle.get(origin)
            while idle:
                conn = idle.pop()
                if conn.reusable(self._keepalive_expiry):
                    return conn
                self._discard(conn)
            if self._open < self._max_connections:
                break
            if not self._close_idle_elsewhere():
                await self._wait_for_a_slot(timeouts.get("pool"))
        self._open += 1
        try:
            return await self._connect(origin, timeouts.get("connect"))
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise

    async def _wait_for_a_slot(self, wait_s: float | None) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(wait_s):
                await waiter
        except TimeoutError:
            raise httpx.PoolTimeout("no connection became free in time") from None
        finally:
            with suppress(ValueError):
                self._waiters.remove(waiter)

    def _close_idle_elsewhere(self) -> bool:
        """At the limit, an idle connection to another origin makes room (rarely needed)."""
        for conns in self._idle.values():
            if conns:
                self._discard(conns.pop(0))
                return True
        return False

    async def _connect(self, origin: _Origin, connect_s: float | None) -> Connection:
        scheme, host, port = origin
        context = self._ssl() if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_s):
                _, conn = await loop.create_connection(
                    Connection, host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn

    def _ssl(self) -> ssl.SSLContext:
        # Made on first use, once per transport: loading the CA bundle takes ~20 ms, which a
        # cold start should pay only if it talks https at all.
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def _release(self, conn: Connection | None, origin: _Origin | None = None) -> None:
        """Return `conn` to the idle pool (None: the request's connection was closed)."""
        if conn is not None and origin is not None and not self._closed:
            conn.idle_since = time.monotonic()
            self._idle.setdefault(origin, []).append(conn)
        elif conn is not None:
            self._discard(conn)
        else:
            self._open -= 1
        self._wake_one()

    def _discard(self, conn: Connection) -> None:
        conn.close()
        self._open -= 1

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                with suppress(RuntimeError):  # a waiter of an event loop closed since
                    waiter.set_result(None)
                    return


def _serialise(request: httpx.Request, body: bytes) -> bytes:
    # httpx has already set Host, Content-Length (or Transfer-Encoding) and the defaults.
    # A body that was streamed has been read whole, so it goes with a Content-Length.
    headers = request.headers.raw
    if any(name.lower() == b"transfer-encoding" for name, _ in headers):
        headers = [(n, v) for n, v in headers if n.lower() != b"transfer-encoding"]
        headers.append((b"Content-Length", b"%d" % len(body)))
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in headers:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
            raise httpx.LocalProtocolError(f"line break in the header {name!r}")
        lines.append(b"%s: %s" % (name, value))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
