"""The local Upstash REST server in a background thread: for test suites and benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from .binary import spawn_redis_server
from .server import create_app

__all__ = ["UpstashEndpoint", "local_upstash", "local_upstash_with_redis"]


@dataclass(frozen=True, slots=True)
class UpstashEndpoint:
    url: str
    token: str


@contextmanager
def local_upstash(redis_host: str, redis_port: int, token: str) -> Iterator[UpstashEndpoint]:
    """Serve Upstash's REST protocol on a free loopback port, over the given redis-server."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are
    # TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(redis_host, redis_port, token), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the local Upstash REST server did not start")
        time.sleep(0.01)
    try:
        yield UpstashEndpoint(f"http://127.0.0.1:{port}", token)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def local_upstash_with_redis(token: str = "local-dev-token") -> Iterator[UpstashEndpoint]:
    """A fresh redis-server and the REST server over it, both stopped on exit."""
    with spawn_redis_server() as (host, port), local_upstash(host, port, token) as endpoint:
        yield endpoint
