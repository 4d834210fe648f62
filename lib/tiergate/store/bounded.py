"""A scheduled run's call to Redis over the admin client (upstash-redis): bounded by a timeout,
and any failure to get an answer one `StoreUnavailable`, so what the run reads stays for the
next run. The rooms' own Redis storage (alerts/queue_upstash.py, meter/index_upstash.py)
shares it; the gate's calls have their own bounds (upstash.py, deadline.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from ..errors import StoreUnavailable
from ..lazy import Lazy

if TYPE_CHECKING:
    from upstash_redis.asyncio import Redis

__all__ = ["BoundedRedis", "bounded"]

T = TypeVar("T")


async def bounded(call: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    """`call()`'s answer, or StoreUnavailable once `timeout_s` has passed or it failed."""
    try:
        async with asyncio.timeout(timeout_s):
            return await call()
    except TimeoutError:
        raise StoreUnavailable(f"Redis did not answer within {timeout_s}s") from None
    except Exception as exc:  # an error reply, refused, dropped, bad gateway, ...
        raise StoreUnavailable(f"Redis: {type(exc).__name__}: {exc}") from None


class BoundedRedis:
    """The rooms' Redis: the admin client, made on first use (wiring shares the hot store's,
    which a cold start does not build), every call through it `bounded`."""

    __slots__ = ("_client", "timeout_s")

    def __init__(self, redis: Redis | Callable[[], Redis], *, timeout_s: float = 5.0) -> None:
        self._client = Lazy.of(redis)
        self.timeout_s = timeout_s

    def client(self) -> Redis:
        return self._client.get()

    async def call(self, call: Callable[[], Awaitable[T]]) -> T:
        return await bounded(call, self.timeout_s)
