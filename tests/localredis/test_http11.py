"""HTTP/1.1 as a server must speak it (issue 18): HEAD, chunked bodies, 100-continue, on raw
sockets against the local server, in-process and as `tiergate local-redis` itself."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import IO

import httpx
import pytest

from .conftest import TOKEN

AUTH = b"Authorization: Bearer %s\r\n" % TOKEN.encode()


def post(body: bytes, *headers: bytes) -> bytes:
    head = b"POST / HTTP/1.1\r\nHost: x\r\n" + AUTH + b"".join(h + b"\r\n" for h in headers)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def chunked(body: bytes, size: int = 5) -> bytes:
    """`body` as a chunked POST to /, in chunks of `size` bytes and a trailer."""
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
    head = b"POST / HTTP/1.1\r\nHost: x\r\n" + AUTH + b"Transfer-Encoding: chunked\r\n\r\n"
    return head + encoded + b"0\r\nX-Trailer: ignored\r\n\r\n"


def path_request(method: bytes, path: str) -> bytes:
    return b"%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (method, path.encode(), AUTH)


class Responses:
    """Reads responses one by one off a connection, framed as HTTP/1.1 frames them."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def next(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        """The next final response; interim ones (a 100 Continue) are skipped, as a client
        must (RFC 9110 15.2), whether it waited for one or not."""
        while (status_line := self._stream.readline()) == b"HTTP/1.1 100 Continue\r\n":
            assert self._stream.readline() == b"\r\n"
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        headers: dict[str, str] = {}
        while (line := self._stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        length = 0 if head_only else int(headers["content-length"])
        return int(status_line.split()[1]), headers, self._stream.read(length)


def connect(url: str, timeout: float = 5) -> socket.socket:
    address = httpx.URL(url)
    assert address.port is not None
    return socket.create_connection((address.host, address.port), timeout=timeout)


def test_head_then_get_on_one_connection(rest_url: str, key: str) -> None:
    httpx.post(f"{rest_url}/set/{key}", headers={"Authorization": f"Bearer {TOKEN}"}, content="v1")
    with connect(rest_url) as sock, sock.makefile("rb") as stream:
        replies = Responses(stream)
        sock.sendall(path_request(b"HEAD", f"/get/{key}"))
        head_status, head_headers, _ = replies.next(head_only=True)
        sock.sendall(path_request(b"GET", f"/get/{key}"))
        get_status, get_headers, get_body = replies.next()

    assert head_status == get_status == 200
    assert json.loads(get_body) == {"result": "v1"}  # nothing of HEAD's came before it
    # HEAD gets the headers GET would, Content-Length included, and no body.
    assert head_headers == get_headers
    assert head_headers["content-length"] == str(len(get_body))


def test_head_then_get_through_httpx(rest_url: str, key: str) -> None:
    """The issue's report: httpx, reusing the connection, read HEAD's body as a status line."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=rest_url, headers=headers, timeout=5) as client:
        head = client.head(f"/get/{key}")
        got = client.get(f"/get/{key}")
        refused = client.head("/")  # an answer with an error status is bodiless too
        again = client.get(f"/get/{key}")

    assert (head.status_code, head.content) == (200, b"")
    assert (got.status_code, got.json()) == (200, {"result": None})
    assert (refused.status_code, refused.content) == (400, b"")
    assert again.json() == {"result": None}


def test_chunked_post(rest_url: str, key: str) -> None:
    body = json.dumps(["SET", key, "chunked value"]).encode()
    with connect(rest_url) as sock, sock.makefile("rb") as stream:
        sock.sendall(chunked(body))
        status, _, answer = Responses(stream).next()
        sock.sendall(post(json.dumps(["GET", key]).encode()))
        _, _, value = Responses(stream).next()

    assert (status, json.loads(answer)) == (200, {"result": "OK"})
    assert json.loads(value) == {"result": "chunked value"}


def test_chunked_post_through_httpx(rest_url: str, key: str) -> None:
    def pieces() -> Iterator[bytes]:  # a generator: httpx sends it chunked
        yield b'["SET", "%s", ' % key.encode()
        yield b'"v"]'

    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=rest_url, headers=headers, timeout=5) as client:
        stored = client.post("/", content=pieces())
        value = client.post("/", json=["GET", key])

    assert stored.json() == {"result": "OK"}
    assert value.json() == {"result": "v"}


def test_5mb_post_with_expect_100_continue_is_answered_at_once(rest_url: str, key: str) -> None:
    body = json.dumps(["SET", key, "x" * 5_000_000]).encode()
    head = post(body, b"Expect: 100-continue")[: -len(body)]
    with connect(rest_url) as sock, sock.makefile("rb") as stream:
        sock.sendall(head)
        sock.settimeout(0.5)  # curl waits 1 s for it; the server answers as soon as it waits
        began = time.monotonic()
        interim = stream.readline()
        assert stream.readline() == b"\r\n"
        waited = time.monotonic() - began
        sock.settimeout(10)
        sock.sendall(body)  # only now, as a client that waits for the 100 does
        status, _, answer = Responses(stream).next()
        sock.sendall(post(json.dumps(["STRLEN", key]).encode()))
        _, _, length = Responses(stream).next()

    assert interim == b"HTTP/1.1 100 Continue\r\n"
    assert waited < 0.5
    assert (status, json.loads(answer)) == (200, {"result": "OK"})
    assert json.loads(length) == {"result": 5_000_000}


def test_expect_100_continue_over_the_limit_is_refused_without_the_100(rest_url: str) -> None:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n%sContent-Length: %d\r\n\r\n"
    with connect(rest_url) as sock, sock.makefile("rb") as stream:
        sock.sendall(head % (AUTH, 10**11))
        status, headers, answer = Responses(stream).next()

    assert status == 413  # at once, with no 100 inviting a body it would not take
    assert headers["connection"] == "close"
    assert json.loads(answer)["error"].startswith("ERR ")


def test_pipelined_requests_are_answered_in_order(rest_url: str, key: str) -> None:
    requests = [
        post(json.dumps(["SET", key, "1"]).encode()),
        path_request(b"HEAD", f"/get/{key}"),
        chunked(json.dumps(["INCR", key]).encode()),
        path_request(b"GET", f"/get/{key}"),
        post(json.dumps(["INCR", key]).encode(), b"Expect: 100-continue"),
        path_request(b"PUT", f"/incr/{key}"),
    ]
    with connect(rest_url) as sock, sock.makefile("rb") as stream:
        sock.sendall(b"".join(requests))  # all in one write: each waits for the one before
        replies = Responses(stream)
        answers = [replies.next(head_only=r.startswith(b"HEAD")) for r in requests]

    assert [status for status, _, _ in answers] == [200] * 6
    assert [body for _, _, body in answers] == [
        b'{"result":"OK"}',
        b"",
        b'{"result":2}',
        b'{"result":"2"}',
        b'{"result":3}',
        b'{"result":4}',
    ]


async def test_64_concurrent_clients(rest_url: str, key: str) -> None:
    """64 connections at once, each pipelining HEAD, chunked and plain requests on its own key
    and a shared counter: every answer right, on its own connection, in order."""
    address = httpx.URL(rest_url)

    async def client(i: int) -> list[bytes]:
        reader, writer = await asyncio.open_connection(address.host, address.port)
        mine = f"{key}{i}"
        writer.write(
            post(json.dumps(["SET", mine, f"v{i}"]).encode())
            + path_request(b"HEAD", f"/get/{mine}")
            + chunked(json.dumps(["INCR", f"{key}shared"]).encode(), size=3)
            + path_request(b"GET", f"/get/{mine}")
        )
        answers = []
        for head_only in (False, True, False, False):
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            answers.append(b"" if head_only else await reader.readexactly(length))
        writer.close()
        await writer.wait_closed()
        return answers

    results = await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(64))), 30)

    counts = sorted(json.loads(answers[2])["result"] for answers in results)
    assert counts == list(range(1, 65))  # every INCR ran once
    for i, (set_reply, head_reply, _, get_reply) in enumerate(results):
        assert (set_reply, head_reply) == (b'{"result":"OK"}', b"")
        assert json.loads(get_reply) == {"result": f"v{i}"}


# -- `tiergate local-redis` itself: what reaches its stderr -------------------------------


@pytest.fixture
def local_redis(redis_addr: tuple[str, int]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The command as a user runs it, over the session's redis-server; stderr kept."""
    host, port = redis_addr
    command = [sys.executable, "-m", "tiergate", "local-redis", "--port", "0",
               "--token", TOKEN, "--redis", f"{host}:{port}"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        line = process.stdout.readline()  # it prints the URL once it listens
        assert line.startswith("UPSTASH_REDIS_REST_URL="), line + process.stderr.read()
        yield line.split()[0].partition("=")[2], process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_clients_gone_mid_request_leave_the_server_quiet(
    local_redis: tuple[str, subprocess.Popen[str]], key: str
) -> None:
    url, process = local_redis
    body = json.dumps(["SET", key, "never stored"]).encode()
    cut_short = [
        post(body)[:-5],  # mid-body, Content-Length framing
        chunked(body)[:-20],  # mid-body, chunked
        post(body, b"Expect: 100-continue")[: -len(body)],  # after the 100, before the body
        post(body)[:30],  # mid-head
    ]
    for data in cut_short:
        with connect(url) as sock:
            sock.sendall(data)
            time.sleep(0.1)  # the server is waiting for the rest: then hang up
    answer = httpx.post(url, json=["GET", key], headers={"Authorization": f"Bearer {TOKEN}"})
    process.terminate()
    _, stderr = process.communicate(timeout=10)

    assert answer.json() == {"result": None}  # still serving; nothing half-read ran
    assert stderr == ""  # no traceback, no error logged
