"""A minimal asyncio RESP2 client: one connection type and a small pool.

Only what the local Upstash server needs. Redis error replies come back as `RespError`
values rather than exceptions, because a pipeline or a transaction carries one error per
command next to the other commands' results. Exceptions mean the connection itself failed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["Arg", "RespConnection", "RespError", "RespPool", "RespProtocolError", "RespValue"]


@dataclass(frozen=True)
class RespError:
    """An error reply, e.g. ``RespError("NOSCRIPT No matching script. Please use EVAL.")``."""

    message: str


class RespProtocolError(Exception):
    """The server sent bytes that are not RESP2; the connection is unusable afterwards."""


Arg: TypeAlias = str | bytes | int | float
# Simple strings decode to `str` and bulk strings stay `bytes`: the REST layer must tell them
# apart, because Upstash leaves the simple string "OK" alone when it base64-encodes results.
RespValue: TypeAlias = "str | bytes | int | list[RespValue] | RespError | None"

# Lines (simple strings, errors, lengths) are short; bulk payloads are read with
# readexactly and are not bound by this. Lua error messages can be long, hence 1 MiB.
_LINE_LIMIT = 1 << 20


def encode_command(args: Sequence[Arg]) -> bytes:
    """A command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            # surrogatepass: a lone surrogate from JSON ("\ud800") must not crash the request.
            data = arg.encode("utf-8", "surrogatepass")
        else:
            data = str(arg).encode("ascii")
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


class RespConnection:
    """One TCP connection to redis. Not safe for concurrent use: the pool hands it out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        # Set when a call failed or was cancelled part-way: unread replies may be in flight,
        # so the next caller would read someone else's answer.
        self.broken = False

    @classmethod
    async def open(cls, host: str, port: int, connect_timeout: float = 5.0) -> RespConnection:
        async with asyncio.timeout(connect_timeout):
            reader, writer = await asyncio.open_connection(host, port, limit=_LINE_LIMIT)
        return cls(reader, writer)

    @property
    def usable(self) -> bool:
        # at_eof catches an idle connection whose server went away (e.g. redis restarted).
        return not (self.broken or self._reader.at_eof() or self._writer.is_closing())

    async def execute(self, *args: Arg) -> RespValue:
        return (await self.execute_many([args]))[0]

    async def execute_many(self, commands: Sequence[Sequence[Arg]]) -> list[RespValue]:
        """Send all commands in one write, then read one reply per command (pipelining)."""
        try:
            self._writer.write(b"".join(encode_command(c) for c in commands))
            await self._writer.drain()
            return [await self._read_reply() for _ in commands]
        except BaseException:
            self.broken = True
            raise

    async def _read_reply(self) -> RespValue:
        line = await self._reader.readuntil(b"\r\n")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body.decode("utf-8", "replace")
        if kind == b"-":
            return RespError(body.decode("utf-8", "replace"))
        try:
            size = int(body)
        except ValueError:
            raise RespProtocolError(f"bad reply line from redis: {line[:80]!r}") from None
        if kind == b":":
            return size
        if kind == b"$":
            return None if size < 0 else (await self._reader.readexactly(size + 2))[:-2]
        if kind == b"*":
            return None if size < 0 else [await self._read_reply() for _ in range(size)]
        raise RespProtocolError(f"unexpected reply type from redis: {line[:80]!r}")

    def abort(self) -> None:
        """Close without waiting; safe in a `finally` that may run during cancellation."""
        self.broken = True
        self._writer.close()

    async def close(self) -> None:
        self.abort()
        with suppress(OSError):
            await self._writer.wait_closed()


class RespPool:
    """Up to `max_size` connections, opened on demand and reused while healthy.

    Each HTTP request borrows a connection for its whole command (or pipeline, or
    MULTI..EXEC), so concurrent requests run on separate connections instead of queueing.
    """

    def __init__(self, host: str, port: int, *, max_size: int = 128) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.host = host
        self.port = port
        self._idle: deque[RespConnection] = deque()
        self._slots = asyncio.Semaphore(max_size)
        self._closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[RespConnection]:
        if self._closed:
            raise RuntimeError("the redis connection pool is closed")
        async with self._slots:
            conn = await self._take()
            try:
                yield conn
            finally:
                if conn.usable and not self._closed:
                    self._idle.append(conn)
                else:
                    conn.abort()

    async def _take(self) -> RespConnection:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                return conn
            conn.abort()
        return await RespConnection.open(self.host, self.port)

    async def execute(self, *args: Arg) -> RespValue:
        async with self.connection() as conn:
            return await conn.execute(*args)

    async def execute_many(self, commands: Sequence[Sequence[Arg]]) -> list[RespValue]:
        """Pipeline `commands` on one connection, so they run in order."""
        async with self.connection() as conn:
            return await conn.execute_many(commands)

    async def close(self) -> None:
        self._closed = True
        idle = list(self._idle)
        self._idle.clear()
        for conn in idle:
            await conn.close()
