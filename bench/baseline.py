"""The blueprint's limiter, as the issue describes it: a sorted-set sliding log over 30 days.

Round trip 1 sweeps entries older than the window and counts the rest; when the count is
under the tier's monthly limit, round trip 2 adds this request and refreshes the TTL. The
two round trips are not atomic, and there is no burst enforcement at all: both are what the
benchmarks measure against.

The commands are built here once, so the HTTP limiter and the bulk memory load send the
very same ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from upstash_redis.asyncio import Redis

from tiergate.clock import Clock, SystemClock

__all__ = ["WINDOW_MS", "SlidingLogLimiter", "member", "record", "sweep_and_count"]

WINDOW_MS = 30 * 86_400_000  # the monthly window


def sweep_and_count(key: str, now_ms: int) -> list[list[str]]:
    return [["ZREMRANGEBYSCORE", key, "0", str(now_ms - WINDOW_MS)], ["ZCARD", key]]


def record(key: str, now_ms: int, entry: str) -> list[list[str]]:
    return [["ZADD", key, str(now_ms), entry], ["EXPIRE", key, str(WINDOW_MS // 1000)]]


def member(now_ms: int) -> str:
    # Unique per request: two requests in one millisecond must both be logged.
    return f"{now_ms}-{uuid.uuid4()}"


class SlidingLogLimiter:
    def __init__(self, redis: Redis, limit: int, clock: Clock | None = None) -> None:
        self._redis = redis
        self._limit = limit
        self._clock = clock or SystemClock()

    async def allow(self, key: str) -> bool:
        now = self._clock.now_ms()
        _, count = await self._pipeline(sweep_and_count(key, now))
        if int(str(count)) >= self._limit:
            return False
        await self._pipeline(record(key, now, member(now)))
        return True

    async def _pipeline(self, commands: Sequence[list[str]]) -> list[object]:
        pipe = self._redis.pipeline()
        for command in commands:
            pipe.execute(command)
        return list(await pipe.exec())
