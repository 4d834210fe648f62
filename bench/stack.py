"""The services every measurement runs against: redis-server and the counted REST server."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from upstash_redis.asyncio import Redis

from tiergate.store.upstash import UpstashStore, connect
from tiergate_tools.localredis.background import serve_in_thread
from tiergate_tools.localredis.binary import spawn_redis_server
from tiergate_tools.localredis.server import create_app

from .counting import RequestCounter

__all__ = ["Stack", "running_stack"]


@dataclass(frozen=True)
class Stack:
    redis_host: str
    redis_port: int
    url: str
    token: str
    counter: RequestCounter

    def client(self) -> Redis:
        """The stock upstash-redis client, as tiergate builds it for its cold paths (and the
        baseline uses it)."""
        return connect(self.url, self.token)

    def store(self, namespace: str) -> UpstashStore:
        # A generous timeout: on 2 cores the REST server shares this process's GIL, and a
        # timeout would show up as a denial that has nothing to do with the algorithm.
        return UpstashStore.at(self.url, self.token, namespace=namespace, timeout_s=10)


@contextmanager
def running_stack() -> Iterator[Stack]:
    """A fresh redis-server and the counted REST server over it, both stopped on exit."""
    token = secrets.token_urlsafe(24)
    with spawn_redis_server() as (host, port):
        counter = RequestCounter(create_app(host, port, token))
        # serve_in_thread makes its socket with IPPROTO_TCP, so keep-alive requests get
        # TCP_NODELAY and do not stall ~40 ms on delayed ACKs.
        with serve_in_thread(counter) as url:
            yield Stack(host, port, url, token, counter)
