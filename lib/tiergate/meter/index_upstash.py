"""The meter index on Redis (Upstash): what gate.lua writes for each unit past the limit, read
and trimmed here by the push, over the admin client (upstash-redis).

    <ns>:m   hash "<period start>\n<meter>\n<account>" -> the period's latest end (ms), the
             account (free-form) last
    <ns>:a:<account>:o:<period start>:<meter>   the overage units counted (minus refunds)

A scheduled run's calls, not a request's: each is bounded by `timeout_s`, and any failure to
get an answer is StoreUnavailable (the periods stay listed for the next run).
"""

from __future__ import annotations

from dataclasses import replace

from ..store.bounded import BoundedRedis
from ..usage import MeteredPeriod

__all__ = ["UpstashMeterIndex"]


class UpstashMeterIndex:
    def __init__(self, redis: BoundedRedis, *, namespace: str = "tg") -> None:
        self._redis = redis
        self._ns = namespace

    async def metered(self) -> list[MeteredPeriod]:
        redis = self._redis.client()
        entries = await self._redis.call(lambda: redis.hgetall(f"{self._ns}:m"))
        periods = [_entry(str(entry), str(end)) for entry, end in (entries or {}).items()]
        if not periods:
            return []
        pipe = redis.pipeline()
        for p in periods:
            pipe.execute(["GET", f"{self._ns}:a:{p.account_id}:o:{p.period_start_ms}:{p.meter}"])
        counts = await self._redis.call(pipe.exec)
        return [replace(p, units=int(str(n or 0))) for p, n in zip(periods, counts, strict=True)]

    async def forget_metered(self, period: MeteredPeriod) -> None:
        entry = "\n".join([str(period.period_start_ms), period.meter, period.account_id])
        redis = self._redis.client()
        await self._redis.call(lambda: redis.hdel(f"{self._ns}:m", entry))


def _entry(entry: str, end: str) -> MeteredPeriod:
    """A field of <ns>:m as gate.lua sets it (period start, meter, account) and its value, the
    period's latest end."""
    start, meter, account = entry.split("\n", 2)
    return MeteredPeriod(account, int(start), int(end), meter, 0)
