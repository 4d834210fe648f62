"""`tiergate local-redis` as a process: it dies whole, refuses the network with the default
token, and stays quiet (and unstalled) when clients hang up mid-request."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tiergate_tools.localredis.binary import ping


class LocalRedis:
    def __init__(self, process: subprocess.Popen[bytes], output: Path) -> None:
        self.process = process
        self.output = output

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def url(self) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # bounded start-up polling
            for line in self.text().splitlines():
                if line.startswith("UPSTASH_REDIS_REST_URL="):
                    return line.split()[0].split("=", 1)[1]
            assert self.process.poll() is None, self.text()
            time.sleep(0.05)
        raise AssertionError(f"no URL announced: {self.text()}")


@contextmanager
def local_redis(tmp_path: Path, *args: str) -> Iterator[LocalRedis]:
    """The command in a process of its own, its output to a file (a pipe nobody reads would
    stall it once full)."""
    output = tmp_path / "local-redis.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tiergate", "local-redis", "--port", "0", *args],
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield LocalRedis(process, output)
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)


def redis_children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in found if "redis-server" in Path(f"/proc/{c}/cmdline").read_text()]


def redis_port(pid: int) -> int:
    # redis-server retitles itself "redis-server 127.0.0.1:PORT".
    title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    match = re.search(r":(\d+)", title)
    assert match, title
    return int(match[1])


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie has exited; only its parent's wait is missing


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_sigkill_takes_the_redis_server_with_it(tmp_path: Path) -> None:
    with local_redis(tmp_path) as server:
        server.url()
        (child,) = redis_children(server.process.pid)
        port = redis_port(child)
        assert ping("127.0.0.1", port)

        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 2
        while not gone(child) and time.monotonic() < deadline:  # bounded polling
            time.sleep(0.02)

        assert gone(child), "redis-server outlived the SIGKILLed local-redis"
        assert not ping("127.0.0.1", port)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.com"])  # noqa: S104
def test_the_network_with_the_default_token_is_refused(host: str, tmp_path: Path) -> None:
    with local_redis(tmp_path, "--host", host) as server:
        try:
            code = server.process.wait(timeout=20)  # a server that starts never returns
        except subprocess.TimeoutExpired:
            pytest.fail(f"local-redis served {host} with the default token: {server.text()}")
        output = server.text()

    assert code == 2
    assert output.count("\n") == 1
    assert output.startswith("tiergate: error: ")
    assert "--token" in output
    assert "Traceback" not in output


def test_the_network_with_a_token_of_ones_own_is_served(tmp_path: Path) -> None:
    every_interface = "0.0.0.0"  # noqa: S104 - the case under test
    with local_redis(tmp_path, "--host", every_interface, "--token", "not-the-default") as server:
        port = int(server.url().rsplit(":", 1)[1])
        reply = httpx.post(
            f"http://127.0.0.1:{port}/",
            json=["PING"],
            headers={"Authorization": "Bearer not-the-default"},
            timeout=5,
        )

    assert reply.json() == {"result": "PONG"}


def test_clients_that_hang_up_mid_request_are_not_logged(tmp_path: Path) -> None:
    with local_redis(tmp_path, "--token", "t") as server:
        url = httpx.URL(server.url())
        before = server.text()
        for _ in range(20):  # the request's head, half its body, then gone
            with socket.create_connection((url.host, url.port)) as sock:
                sock.sendall(
                    b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
                    b'Content-Length: 100\r\n\r\n["PI'
                )
        reply = httpx.post(str(url), json=["PING"], headers={"Authorization": "Bearer t"})
        assert reply.json() == {"result": "PONG"}
        after = server.text()

    assert after == before, after[len(before) :][:2000]
