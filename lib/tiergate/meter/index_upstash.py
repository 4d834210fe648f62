"""The meter index on Redis (Upstash): what gate.lua writes for each unit past the limit, read
and trimmed here by the push, over the admin client (upstash-redis).

    <ns>:m   hash "<period start>\n<meter>\n<account>" -> the period's latest end (ms), the
             account (free-form) last
    <ns>:a:<account>:o:<period start>:<meter>   the overage units counted (minus refunds)

A scheduled run's calls, not a request's: each is bounded by `timeout_s`, and any failure to
get an answer is StoreUnavailable (the periods stay listed for the next run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..lazy import Lazy
from ..store.bounded import bounded
from ..usage import MeteredPeriod

if TYPE_CHECKING:
    from upstash_redis.asyncio import Redis

__all__ = ["UpstashMeterIndex"]


class UpstashMeterIndex:
    def __init__(
        self,
        redis: Redis | Callable[[], Redis],
        *,
        namespace: str = "tg",
        timeout_s: float = 5.0,
    ) -> None:
        """`redis`: the client, or a function that makes it on first use (wiring shares the
        hot store's, which a cold start does not build)."""
        self._client = Lazy.of(redis)
        self._ns = namespace
        self._timeout_s = timeout_s

    async def metered(self) -> list[MeteredPeriod]:
        redis = self._client.get()
        entries = await bounded(lambda: redis.hgetall(f"{self._ns}:m"), self._timeout_s)
        periods = [_entry(str(entry), str(end)) for entry, end in (entries or {}).items()]
        if not periods:
            return []
        pipe = redis.pipeline()
        for p in periods:
            pipe.execute(["GET", f"{self._ns}:a:{p.account_id}:o:{p.period_start_ms}:{p.meter}"])
        counts = await bounded(pipe.exec, self._timeout_s)
        return [replace(p, units=int(str(n or 0))) for p, n in zip(periods, counts, strict=True)]

    async def forget_metered(self, period: MeteredPeriod) -> None:
        entry = "\n".join([str(period.period_start_ms), period.meter, period.account_id])
        redis = self._client.get()
        await bounded(lambda: redis.hdel(f"{self._ns}:m", entry), self._timeout_s)


def _entry(entry: str, end: str) -> MeteredPeriod:
    """A field of <ns>:m as gate.lua sets it (period start, meter, account) and its value, the
    period's latest end."""
    start, meter, account = entry.split("\n", 2)
    return MeteredPeriod(account, int(start), int(end), meter, 0)
