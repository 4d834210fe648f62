"""The lean transport against real sockets: keep-alive, dropped connections, timeouts, TLS."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from upstash_redis.asyncio import Redis

from tiergate.store.transport import LeanTransport, lean_client, ssl_context_of, use_client
from tiergate.store.upstash import connect
from tiergate_tools.localredis.background import UpstashEndpoint

# A handler answers one parsed request (method, body) on a connection, or returns None to
# hang up without answering.
Handler = Callable[[bytes, bytes], Awaitable[bytes | None]]


def reply(body: bytes, *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(body), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class Scripted:
    """A loopback HTTP/1.1 server whose answers the test writes byte for byte."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.url = ""
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                answer = await self.handler(head.split(b" ")[0], body)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the test is over
        finally:
            writer.close()

    def hang_up(self) -> None:
        """Close every connection from the server's side."""
        for writer in self.writers:
            writer.close()


@asynccontextmanager
async def scripted(
    handler: Handler, context: ssl.SSLContext | None = None
) -> AsyncIterator[Scripted]:
    server = Scripted(handler)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=context)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"{'https' if context else 'http'}://127.0.0.1:{port}/"
    try:
        async with listener:
            yield server
    finally:
        for task in server.tasks:
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)


async def echo(method: bytes, body: bytes) -> bytes:
    return reply(method + b" " + body)


async def test_connect_sends_through_the_lean_transport(upstash: UpstashEndpoint) -> None:
    """Pins the seam in upstash-redis that connect() relies on."""
    redis = connect(upstash.url, upstash.token)
    client = redis._http._client

    assert isinstance(client._transport, LeanTransport)
    # The TLS context upstash-redis's own client built is reused, not built a second time.
    assert client._transport._ssl_context is not None
    assert await redis.set("transport:k", "v")
    assert await redis.get("transport:k") == "v"
    pipeline = redis.pipeline()
    pipeline.incr("transport:n")
    pipeline.incr("transport:n")
    first, second = await pipeline.exec()
    assert isinstance(first, int)
    assert second == first + 1
    await redis.close()
    assert client.is_closed


async def test_concurrent_calls_share_a_bounded_pool(upstash: UpstashEndpoint) -> None:
    transport = LeanTransport(max_connections=4)
    redis = Redis(upstash.url, upstash.token, rest_retries=0, allow_telemetry=False)
    assert use_client(redis, httpx.AsyncClient(transport=transport, timeout=10))

    results = await asyncio.gather(*(redis.incr("transport:pool") for _ in range(64)))

    assert len(set(results)) == 64
    assert transport._open <= 4
    await redis.close()


async def test_keep_alive_reuses_one_connection() -> None:
    async with scripted(echo) as server, lean_client(5) as client:
        answers = [(await client.post(server.url, content=b"%d" % i)).text for i in range(5)]

    assert answers == [f"POST {i}" for i in range(5)]
    assert server.connections == 1


async def test_chunked_and_close_delimited_bodies() -> None:
    answers = iter(
        [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nde",
            reply(b"fg"),
        ]
    )

    async def handler(method: bytes, body: bytes) -> bytes:
        return next(answers)

    async with scripted(handler) as server, lean_client(5) as client:
        texts = [(await client.get(server.url)).text for _ in range(3)]

    assert texts == ["abc", "de", "fg"]
    assert server.connections == 2  # "Connection: close" was honoured


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async with scripted(echo) as server, lean_client(5) as client:
        assert (await client.post(server.url, content=b"1")).text == "POST 1"
        server.hang_up()
        await asyncio.sleep(0.05)  # the close reaches the client's protocol
        assert (await client.post(server.url, content=b"2")).text == "POST 2"

    assert server.connections == 2


def test_a_close_the_event_loop_has_not_seen_yet_is_caught_before_reuse() -> None:
    """As after a Lambda thaw: the server's FIN sits on the socket, undelivered."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[int] = []

    def serve_one_request_per_connection() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                conn.sendall(reply(b"%d" % len(accepted)))
            # closed here: keep-alive promised nothing

    threading.Thread(target=serve_one_request_per_connection, daemon=True).start()

    async def two_calls() -> list[str]:
        async with lean_client(5) as client:
            first = (await client.get(f"http://127.0.0.1:{port}/")).text
            time.sleep(0.1)  # noqa: ASYNC251 - blocks the loop: the FIN arrives, undelivered
            second = (await client.get(f"http://127.0.0.1:{port}/")).text
            return [first, second]

    try:
        assert asyncio.run(two_calls()) == ["1", "2"]
    finally:
        listener.close()


async def test_expired_idle_connections_are_replaced() -> None:
    transport = LeanTransport(keepalive_expiry=0)
    client = httpx.AsyncClient(transport=transport, timeout=5)
    async with scripted(echo) as server, client:
        for _ in range(3):
            assert (await client.post(server.url, content=b"x")).text == "POST x"
            await asyncio.sleep(0.001)

    assert server.connections == 3


async def test_a_cancelled_request_never_leaves_its_reply_for_the_next() -> None:
    async def slow_first(method: bytes, body: bytes) -> bytes:
        if body == b"slow":
            await asyncio.sleep(0.2)
        return reply(body)

    async with scripted(slow_first) as server, lean_client(5) as client:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.post(server.url, content=b"slow"), 0.05)
        answer = await client.post(server.url, content=b"fast")

    assert answer.text == "fast"
    assert server.connections == 2


async def test_read_timeout() -> None:
    async def never(method: bytes, body: bytes) -> bytes:
        await asyncio.sleep(10)
        return b""

    async with scripted(never) as server, lean_client(0.1) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url)


async def test_pool_timeout_when_every_connection_is_busy() -> None:
    async def slow(method: bytes, body: bytes) -> bytes:
        await asyncio.sleep(0.5)
        return reply(b"late")

    transport = LeanTransport(max_connections=1)
    timeout = httpx.Timeout(5, pool=0.05)
    client = httpx.AsyncClient(transport=transport, timeout=timeout)
    async with scripted(slow) as server, client:
        first = asyncio.ensure_future(client.get(server.url))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(server.url)
        assert (await first).text == "late"
        assert (await client.get(server.url)).text == "late"  # the slot came back


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with scripted(echo) as server:
        url = server.url
    async with lean_client(1) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url)


async def test_garbage_is_a_protocol_error() -> None:
    async def garbage(method: bytes, body: bytes) -> bytes:
        return b"SMTP ready\r\n\r\n"

    async with scripted(garbage) as server, lean_client(1) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url)


async def test_a_header_with_a_line_break_is_refused() -> None:
    async with scripted(echo) as server, lean_client(1) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.get(server.url, headers={"X-Token": "a\r\nInjected: yes"})


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_https_verifies_the_server(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async with scripted(echo, server_context) as server:
        trusted = httpx.AsyncClient(transport=LeanTransport(ssl_context=trusting), timeout=5)
        async with trusted:
            assert (await trusted.post(server.url, content=b"tls")).text == "POST tls"
        async with lean_client(5) as default:  # certifi's CAs do not know this certificate
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await default.get(server.url)


def test_the_reused_tls_context_is_upstash_redis_own() -> None:
    redis = Redis("https://example.invalid", "t")
    own = redis._http._client._transport._pool._ssl_context  # type: ignore[attr-defined]

    assert ssl_context_of(redis) is own
    assert ssl_context_of(object()) is None  # type: ignore[arg-type]


def test_use_client_leaves_an_unknown_client_alone(caplog: pytest.LogCaptureFixture) -> None:
    class Elsewhere:
        _http = object()

    with caplog.at_level(logging.WARNING):
        assert not use_client(Elsewhere(), httpx.AsyncClient())  # type: ignore[arg-type]
    assert "its own transport stays" in caplog.text


def test_sniffio_is_installed_for_httpcore() -> None:
    """httpcore imports sniffio on every request through httpx's default transport (other
    clients than the gate's still use it); anyio no longer brings it, so it is a dependency."""
    import importlib.util

    assert importlib.util.find_spec("sniffio") is not None
