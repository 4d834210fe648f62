"""A local Upstash Redis: the Upstash REST protocol served over a real redis-server.

Nothing on PyPI serves Upstash's REST protocol locally, so tiergate ships this for its
tests and for local development (``tiergate local-redis``)::

    with spawn_redis_server() as (host, port):
        app = create_app(host, port, token="dev")   # an ASGI app; http.serve or uvicorn
"""

from __future__ import annotations

from .binary import (
    LocalRedisError,
    RedisServerNotFound,
    RedisStartError,
    find_redis_server,
    spawn_redis_server,
)
from .server import create_app

__all__ = [
    "LocalRedisError",
    "RedisServerNotFound",
    "RedisStartError",
    "create_app",
    "find_redis_server",
    "spawn_redis_server",
]
