"""The lean pool against real sockets: keep-alive, dropped connections, timeouts, TLS."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tiergate.store.connection import ConnectError, PoolTimeout, ReadTimeout, RemoteProtocolError
from tiergate.store.rest import RestClient
from tiergate.store.transport import Pool, verified_context
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


def pool_for(url: str, **options: Any) -> Pool:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return Pool(parts.scheme, parts.hostname, parts.port, **options)


@asynccontextmanager
async def pool_of(url: str, **options: Any) -> AsyncIterator[Pool]:
    pool = pool_for(url, **options)
    try:
        yield pool
    finally:
        await pool.aclose()


def request(method: str = "GET", body: bytes = b"") -> bytes:
    return b"%s / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (
        method.encode(),
        len(body),
        body,
    )


async def text(pool: Pool, method: str = "GET", body: bytes = b"") -> str:
    return (await pool.exchange(request(method, body))).body.decode()


async def test_the_rest_client_runs_commands_on_one_connection(upstash: UpstashEndpoint) -> None:
    rest = RestClient(upstash.url, upstash.token, timeout_s=5)
    assert await rest.call(b'["SET","transport:k","v"]') == b"OK"
    assert await rest.call(b'["GET","transport:k"]') == b"v"
    assert await rest.call(b'["GET","transport:none"]') is None
    first = await rest.call(b'["INCR","transport:n"]')
    assert isinstance(first, int)
    assert await rest.call(b'["INCR","transport:n"]') == first + 1
    await rest.aclose()


async def test_concurrent_calls_share_a_bounded_pool(upstash: UpstashEndpoint) -> None:
    pool = pool_for(upstash.url, max_connections=4)
    rest = RestClient(upstash.url, upstash.token, pool=pool)

    results = await asyncio.gather(*(rest.call(b'["INCR","transport:pool"]') for _ in range(64)))

    assert len(set(results)) == 64
    assert pool.open_connections <= 4
    await rest.aclose()


async def test_keep_alive_reuses_one_connection() -> None:
    async with scripted(echo) as server, pool_of(server.url) as pool:
        answers = [await text(pool, "POST", b"%d" % i) for i in range(5)]

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

    async with scripted(handler) as server, pool_of(server.url) as pool:
        texts = [await text(pool) for _ in range(3)]

    assert texts == ["abc", "de", "fg"]
    assert server.connections == 2  # "Connection: close" was honoured


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async with scripted(echo) as server, pool_of(server.url) as pool:
        assert await text(pool, "POST", b"1") == "POST 1"
        server.hang_up()
        await asyncio.sleep(0.05)  # the close reaches the client's protocol
        assert await text(pool, "POST", b"2") == "POST 2"

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
        async with pool_of(f"http://127.0.0.1:{port}/") as pool:
            first = await text(pool)
            time.sleep(0.1)  # noqa: ASYNC251 - blocks the loop: the FIN arrives, undelivered
            second = await text(pool)
            return [first, second]

    try:
        assert asyncio.run(two_calls()) == ["1", "2"]
    finally:
        listener.close()


async def test_expired_idle_connections_are_replaced() -> None:
    async with scripted(echo) as server, pool_of(server.url, keepalive_expiry=0) as pool:
        for _ in range(3):
            assert await text(pool, "POST", b"x") == "POST x"
            await asyncio.sleep(0.001)

    assert server.connections == 3


async def test_a_cancelled_request_never_leaves_its_reply_for_the_next() -> None:
    async def slow_first(method: bytes, body: bytes) -> bytes:
        if body == b"slow":
            await asyncio.sleep(0.2)
        return reply(body)

    async with scripted(slow_first) as server, pool_of(server.url) as pool:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(text(pool, "POST", b"slow"), 0.05)
        answer = await text(pool, "POST", b"fast")

    assert answer == "fast"
    assert server.connections == 2


async def test_read_timeout() -> None:
    async def never(method: bytes, body: bytes) -> bytes:
        await asyncio.sleep(10)
        return b""

    async with scripted(never) as server, pool_of(server.url, read_timeout_s=0.1) as pool:
        with pytest.raises(ReadTimeout):
            await text(pool)


async def test_pool_timeout_when_every_connection_is_busy() -> None:
    async def slow(method: bytes, body: bytes) -> bytes:
        await asyncio.sleep(0.5)
        return reply(b"late")

    async with (
        scripted(slow) as server,
        pool_of(server.url, max_connections=1, timeout_s=5, wait_s=0.05) as pool,
    ):
        first = asyncio.ensure_future(text(pool))
        await asyncio.sleep(0.05)
        with pytest.raises(PoolTimeout):
            await text(pool)
        assert await first == "late"
        assert await text(pool) == "late"  # the slot came back


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with scripted(echo) as server:
        url = server.url
    async with pool_of(url, timeout_s=1) as pool:
        with pytest.raises(ConnectError):
            await text(pool)


async def test_garbage_is_a_protocol_error() -> None:
    async def garbage(method: bytes, body: bytes) -> bytes:
        return b"SMTP ready\r\n\r\n"

    async with scripted(garbage) as server, pool_of(server.url, timeout_s=1) as pool:
        with pytest.raises(RemoteProtocolError):
            await text(pool)


def test_a_token_or_url_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        RestClient("http://127.0.0.1:1", "a\r\nInjected: yes")
    with pytest.raises(ValueError, match="http"):
        RestClient("ftp://127.0.0.1:1", "t")


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
        async with pool_of(server.url, ssl_context=trusting) as trusted:
            assert await text(trusted, "POST", b"tls") == "POST tls"
        async with pool_of(server.url) as default:  # certifi's CAs do not know this certificate
            with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await text(default)


def test_the_default_context_verifies_with_certifi() -> None:
    import certifi

    context = verified_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    bundle = ssl.create_default_context(cafile=certifi.where())
    assert len(context.get_ca_certs()) == len(bundle.get_ca_certs()) > 0


def test_sniffio_is_installed_for_httpcore() -> None:
    """httpcore imports sniffio on every request through httpx's default transport (upstash-redis
    on the cold paths uses it); anyio no longer brings it, so it is a dependency."""
    import importlib.util

    assert importlib.util.find_spec("sniffio") is not None
