"""A pool of lean keep-alive HTTP/1.1 connections to one origin, for the hot path's one call.

The gate's only I/O on the hot path is one small JSON POST to Upstash. Through httpx's
default transport (httpcore and h11) that call cost more client CPU than the rest of the
request; this pool is stdlib asyncio: one `asyncio.Protocol` per connection that parses the
reply as it arrives (`connection.py`, `http11.py`), and the idle ones kept for the next call.
The request is bytes its caller built (`rest.py`): nothing is assembled here per call.

What it does not do, on purpose: proxies, HTTP/2, redirects, retries. A request that fails is
a `TransportError`, and its connection is dropped, never reused with a reply still in flight.
https is verified: certifi's CAs (what httpx, and so upstash-redis, trust) unless the caller
passes its own context.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from contextlib import suppress

from .connection import ConnectError, Connection, PoolTimeout
from .http11 import ParsedResponse

__all__ = ["Pool", "verified_context"]


def verified_context() -> ssl.SSLContext:
    """A client context that verifies the server against certifi's CA bundle (the one httpx
    uses), with the hostname checked: `ssl.create_default_context`'s defaults."""
    import certifi  # only a deployment that talks https pays for loading the bundle

    return ssl.create_default_context(cafile=certifi.where())


class Pool:
    """Connections to `scheme://host:port`, at most `max_connections` open at once.

    Requests beyond the limit wait for a free connection, at most `wait_s` (default
    `timeout_s`). An idle
    connection older than `keepalive_expiry` seconds is closed rather than reused, since
    servers drop idle ones and a request sent on a dropped connection cannot be told apart
    from one that ran. Connecting is bounded by `timeout_s`, and so is waiting for the reply
    when `read_timeout_s` is given; the store bounds each call itself (`deadline.py`), so its
    pool keeps no second timer per call.
    """

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        timeout_s: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
        keepalive_expiry: float = 5.0,
        wait_s: float | None = None,
        read_timeout_s: float | None = None,
    ) -> None:
        if scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme {scheme!r}")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._tls = scheme == "https"
        self._host, self._port = host, port
        self._timeout_s = timeout_s
        self._wait_s = timeout_s if wait_s is None else wait_s
        self._read_timeout_s = read_timeout_s
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._idle: list[Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    @property
    def open_connections(self) -> int:
        return self._open

    async def exchange(self, payload: bytes, *, head: bool = False) -> ParsedResponse:
        """Send `payload` (a whole HTTP/1.1 request) and return its parsed reply."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        conn = await self._acquire()
        try:
            reply = await conn.exchange(payload, head=head, read_s=self._read_timeout_s)
        except BaseException:
            conn.close()  # a reply may still be in flight: the connection is done for
            self._release(None)
            raise
        self._release(conn if reply.keep_alive else None)
        return reply

    async def aclose(self) -> None:
        self._closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    async def _acquire(self) -> Connection:
        while True:
            idle = self._idle
            while idle:
                conn = idle.pop()
                if conn.reusable(self._keepalive_expiry):
                    return conn
                self._discard(conn)
            if self._open < self._max_connections:
                break
            await self._wait_for_a_slot()
        self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise

    async def _wait_for_a_slot(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self._wait_s):
                await waiter
        except TimeoutError:
            raise PoolTimeout("no connection became free in time") from None
        finally:
            with suppress(ValueError):
                self._waiters.remove(waiter)

    async def _connect(self) -> Connection:
        host, port = self._host, self._port
        context = self._ssl() if self._tls else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout_s):
                _, conn = await loop.create_connection(
                    Connection, host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError:
            raise ConnectError(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:  # ssl.SSLError (a certificate not verified) is one
            raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn

    def _ssl(self) -> ssl.SSLContext:
        # Made on first use, once per pool: loading the CA bundle takes ~20 ms, which a cold
        # start should pay only if it talks https at all.
        if self._ssl_context is None:
            self._ssl_context = verified_context()
        return self._ssl_context

    def _release(self, conn: Connection | None) -> None:
        """Return `conn` to the idle list (None: the request's connection was closed)."""
        if conn is not None and not self._closed:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
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
