"""One keep-alive HTTP/1.1 connection of the lean transport, as an asyncio Protocol.

`exchange` writes a request in one go and resolves when the reply has been parsed from the
bytes that arrived (`http11.py`); the pool (`transport.py`) keeps these. A failed exchange is
a `TransportError`, and its connection is never used again.
"""

from __future__ import annotations

import asyncio
import select
import time
from contextlib import suppress

from .http11 import ParsedResponse, ProtocolError, parse_response

__all__ = [
    "ConnectError",
    "Connection",
    "PoolTimeout",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "TransportError",
    "WriteError",
]


class TransportError(Exception):
    """No reply came back; the request may or may not have reached the server."""


class ConnectError(TransportError):
    """No connection could be made (refused, unreachable, TLS verification failed, timed out)."""


class PoolTimeout(TransportError):
    """Every connection stayed busy for longer than the wait allowed."""


class WriteError(TransportError):
    """The request could not be written."""


class ReadError(TransportError):
    """The connection was lost before the reply was whole."""


class ReadTimeout(TransportError):
    """The server did not answer in time."""


class RemoteProtocolError(TransportError):
    """The server's bytes are not an HTTP/1.1 reply."""


class Connection(asyncio.Protocol):
    """One connection; `exchange` sends a request and resolves when its reply is parsed."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[ParsedResponse] | None = None
        self._head = False
        self._eof = False
        self._loop = asyncio.get_running_loop()
        self.idle_since = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._deliver()

    def eof_received(self) -> bool:
        self._eof = True
        self._deliver()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._deliver()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(
                ReadError(f"the connection was lost: {exc}" if exc else "connection lost")
            )

    def _deliver(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            reply = parse_response(self._buffer, head=self._head, eof=self._eof)
        except ProtocolError as exc:
            waiter.set_exception(RemoteProtocolError(str(exc)))
            return
        if reply is not None:
            del self._buffer[: reply.consumed]
            waiter.set_result(reply)

    async def exchange(self, payload: bytes, *, head: bool, read_s: float | None) -> ParsedResponse:
        """The reply to `payload`; `read_s` bounds the wait (None: the caller bounds it)."""
        assert self._transport is not None
        waiter: asyncio.Future[ParsedResponse] = self._loop.create_future()
        self._waiter = waiter
        self._head = head
        try:
            self._transport.write(payload)
        except (OSError, RuntimeError) as exc:
            raise WriteError(f"cannot send the request: {exc}") from exc
        try:
            if read_s is None:  # no timer of its own: one per call is enough on the hot path
                return await waiter
            async with asyncio.timeout(read_s):
                return await waiter
        except TimeoutError:
            raise ReadTimeout("the server did not answer in time") from None
        finally:
            self._waiter = None

    def reusable(self, keepalive_expiry: float) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing() or self._eof or self._buffer:
            return False
        if time.monotonic() - self.idle_since > keepalive_expiry:
            return False
        if self._loop is not asyncio.get_running_loop():
            return False  # made in an earlier event loop (a test's, a previous run's)
        # A socket that is readable while idle holds an EOF (or garbage) the event loop has not
        # delivered yet, e.g. after a Lambda thaw: sending on it would fail after the fact.
        sock = transport.get_extra_info("socket")
        if sock is None:
            return True
        return not _readable(sock.fileno())

    def close(self) -> None:
        if self._transport is not None:
            with suppress(RuntimeError):  # its event loop may be closed already
                self._transport.close()


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):  # not on Windows; select() there, and no fd limit to mind
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])
