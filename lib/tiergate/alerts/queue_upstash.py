"""The pending alerts on Redis (Upstash): the list `<ns>:al` that gate.lua pushes each
crossing onto, read and trimmed here by the delivery, over the admin client (upstash-redis).

    <ns>:al   list of "<label> <used> <limit> <period start> <period end> <at> <tier>
              <account>", the fields joined by newlines, the account (free-form) last

A scheduled run's calls, not a request's: each is bounded by `timeout_s`, and any failure to
get an answer is StoreUnavailable (the crossings stay pending for the next run).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..store.bounded import BoundedRedis
from ..usage import AlertCrossing

__all__ = ["UpstashAlertQueue", "alert_entry", "alert_text"]


class UpstashAlertQueue:
    def __init__(self, redis: BoundedRedis, *, namespace: str = "tg") -> None:
        self._redis = redis
        self._list = f"{namespace}:al"

    async def alerts(self, limit: int = 100) -> list[AlertCrossing]:
        if limit <= 0:  # LRANGE 0 -1 would be all of them
            return []
        redis = self._redis.client()
        entries = await self._redis.call(lambda: redis.lrange(self._list, 0, limit - 1))
        return [alert_entry(str(entry)) for entry in entries or []]

    async def alerts_delivered(self, crossings: Sequence[AlertCrossing]) -> None:
        if not crossings:
            return
        pipe = self._redis.client().pipeline()
        for crossing in crossings:
            pipe.execute(["LREM", self._list, "1", alert_text(crossing)])
        await self._redis.call(pipe.exec)

    async def alerts_requeue(self, crossings: Sequence[AlertCrossing]) -> None:
        if not crossings:
            return
        # All or none: an entry is never lost between LREM and RPUSH.
        tx = self._redis.client().multi()
        for crossing in crossings:
            entry = alert_text(crossing)
            tx.execute(["LREM", self._list, "1", entry])
            tx.execute(["RPUSH", self._list, entry])
        await self._redis.call(tx.exec)


def alert_text(c: AlertCrossing) -> str:
    """The entry gate.lua queued for this crossing, rebuilt from its fields."""
    fields = [c.label, c.used, c.limit, c.period_start_ms, c.period_end_ms, c.at_ms]
    return "\n".join([*(str(f) for f in fields), c.tier, c.account_id])


def alert_entry(entry: str) -> AlertCrossing:
    """An entry of <ns>:al as gate.lua queues it; the account, free-form, last."""
    label, used, limit, start, end, at, tier, account = entry.split("\n", 7)
    return AlertCrossing(account, tier, label, int(used), int(limit), int(start), int(end), int(at))
