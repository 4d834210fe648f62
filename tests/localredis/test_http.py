"""The local server's own HTTP/1.1 server, and the REST app under uvicorn, on raw sockets."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
from starlette.types import ASGIApp

from tiergate_tools.localredis.background import serve_in_thread, serve_rest_in_thread
from tiergate_tools.localredis.server import create_app

from .conftest import TOKEN

AUTH = f"Authorization: Bearer {TOKEN}\r\n".encode()
PING = b'["PING"]'
TWO_FRAMINGS = (
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
)


def request(body: bytes = PING, *headers: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    head = b"POST / %s\r\nHost: x\r\n%s" % (version, AUTH)
    head += b"".join(h + b"\r\n" for h in headers)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def exchange(url: str, data: bytes) -> bytes:
    """Send `data`, read until the server closes (or 5 s pass)."""
    address = httpx.URL(url)
    with socket.create_connection((address.host, address.port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_one_write_per_answer_and_keep_alive(rest_url: str) -> None:
    address = httpx.URL(rest_url)
    with socket.create_connection((address.host, address.port), timeout=5) as sock:
        for _ in range(3):  # the same connection serves one request after another
            sock.sendall(request())
            head_and_body = sock.recv(65536)
            assert head_and_body.startswith(b"HTTP/1.1 200 OK\r\n")
            assert head_and_body.endswith(b'\r\n\r\n{"result":"PONG"}')


@pytest.mark.parametrize(
    ("extra", "version"),
    [
        (b"Connection: close", b"HTTP/1.1"),
        (b"Connection: Keep-Alive, Close", b"HTTP/1.1"),
        (b"X-Nothing: 1", b"HTTP/1.0"),
    ],
)
def test_close_when_asked_or_http10(rest_url: str, extra: bytes, version: bytes) -> None:
    answer = exchange(rest_url, request(PING, extra, version=version) + request())

    assert answer.count(b"HTTP/1.1 200 OK") == 1  # the second request is never read
    assert b"connection: close" in answer.lower()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", b"501"),
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"400"),  # no Host (RFC 9112 3.2)
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 100_000 + b"\r\n\r\n", b"431"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", b"413"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", b"400"),
        # read two ways: refused (RFC 9112 6.1)
        (TWO_FRAMINGS, b"400"),
        # 64 MiB and a byte, announced by a chunk's size: refused before it is sent
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4000001\r\n", b"413"),
    ],
)
def test_requests_it_does_not_take_are_answered_and_closed(
    rest_url: str, data: bytes, status: bytes
) -> None:
    answer = exchange(rest_url, data)

    assert answer.startswith(b"HTTP/1.1 " + status)
    assert b'"error":"ERR ' in answer


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("serve", [serve_rest_in_thread, serve_in_thread], ids=["lean", "uvicorn"])
def test_a_client_gone_mid_body_is_not_an_error(
    redis_addr: tuple[str, int],
    serve: Callable[[ASGIApp], AbstractContextManager[str]],
) -> None:
    keep = Keep()
    loggers = [logging.getLogger(name) for name in ("tiergate", "uvicorn.error", "asyncio")]

    def logged() -> list[logging.LogRecord]:
        return keep.records

    with serve(create_app(*redis_addr, TOKEN)) as url:
        # Only now: uvicorn configures its loggers as it starts, dropping handlers on them.
        for logger in loggers:
            logger.addHandler(keep)
        address = httpx.URL(url)
        for _ in range(3):
            with socket.create_connection((address.host, address.port)) as sock:
                sock.sendall(request(b'["PING", "and more to come"]')[:-10])
                time.sleep(0.1)  # the app is waiting for the rest of the body: then hang up
        deadline = time.monotonic() + 0.5
        while not logged() and time.monotonic() < deadline:  # bounded: errors come at once
            time.sleep(0.02)
        answer = httpx.post(url, json=["PING"], headers={"Authorization": f"Bearer {TOKEN}"})

    for logger in loggers:
        logger.removeHandler(keep)
    assert answer.json() == {"result": "PONG"}
    assert [r.getMessage()[:200] for r in logged()] == []
