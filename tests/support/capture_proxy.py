"""A TCP proxy in front of the local Upstash server that keeps every HTTP request it carries,
as the server receives it: the request line, the headers and the body, byte for byte.

It speaks no HTTP beyond finding where each request ends (its head and Content-Length), so
what it records is exactly what the client wrote; the server's answers are passed back as
they come. It runs on the test's own event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["CapturedRequest", "CapturingProxy", "capturing_proxy"]


@dataclass(frozen=True, slots=True)
class CapturedRequest:
    request_line: bytes
    headers: tuple[tuple[bytes, bytes], ...]  # as sent: names in the client's spelling
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        """The value of header `name` (case-insensitive); None when it was not sent."""
        found = [v for n, v in self.headers if n.lower() == name.lower()]
        assert len(found) <= 1, f"{name!r} sent {len(found)} times"
        return found[0] if found else None


@dataclass
class CapturingProxy:
    upstream_host: str
    upstream_port: int
    url: str = ""
    requests: list[CapturedRequest] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        back = asyncio.ensure_future(_pump(up_reader, writer))
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head[:-4].split(b"\r\n")
                headers = tuple(
                    (name, value.strip())
                    for name, _, value in (line.partition(b":") for line in lines)
                )
                length = next((int(v) for n, v in headers if n.lower() == b"content-length"), 0)
                body = await reader.readexactly(length)
                self.requests.append(CapturedRequest(request_line, headers, body))
                up_writer.write(head + body)
                await up_writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the test is over
        finally:
            back.cancel()
            with suppress(asyncio.CancelledError, ConnectionError):
                await back
            up_writer.close()
            writer.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


@asynccontextmanager
async def capturing_proxy(upstream_url: str) -> AsyncIterator[CapturingProxy]:
    upstream = urlsplit(upstream_url)
    assert upstream.hostname is not None
    assert upstream.port is not None
    proxy = CapturingProxy(upstream.hostname, upstream.port)
    listener = await asyncio.start_server(proxy.serve, "127.0.0.1", 0)
    proxy.url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        async with listener:
            yield proxy
    finally:
        for task in proxy._tasks:
            task.cancel()
        await asyncio.gather(*proxy._tasks, return_exceptions=True)
