"""The local Upstash REST server in a background thread: for test suites and benchmarks."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from .binary import spawn_redis_server
from .http import serve
from .server import create_app

__all__ = [
    "UpstashEndpoint",
    "local_upstash",
    "local_upstash_with_redis",
    "serve_in_thread",
    "serve_rest_in_thread",
]


@dataclass(frozen=True, slots=True)
class UpstashEndpoint:
    url: str
    token: str


@contextmanager
def serve_in_thread(app: ASGIApp, startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve `app` with uvicorn (lifespan on) on a free loopback port; yield its base URL."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are
    # TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:  # bounded start-up polling
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server in the background thread did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serve_rest_in_thread(app: ASGIApp, startup_timeout: float = 10.0) -> Iterator[str]:
    """Like `serve_in_thread`, on the local Upstash server's own lean HTTP server (http.py)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(serve(app, sock, stop, started.set),), daemon=True
    )
    thread.start()
    try:
        if not started.wait(startup_timeout):
            raise RuntimeError("the server in the background thread did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
        sock.close()


@contextmanager
def local_upstash(redis_host: str, redis_port: int, token: str) -> Iterator[UpstashEndpoint]:
    """Serve Upstash's REST protocol on a free loopback port, over the given redis-server."""
    with serve_rest_in_thread(create_app(redis_host, redis_port, token)) as url:
        yield UpstashEndpoint(url, token)


@contextmanager
def local_upstash_with_redis(token: str) -> Iterator[UpstashEndpoint]:
    """A fresh redis-server and the REST server over it, both stopped on exit."""
    with spawn_redis_server() as (host, port), local_upstash(host, port, token) as endpoint:
        yield endpoint
