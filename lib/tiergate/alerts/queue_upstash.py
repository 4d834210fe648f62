"""The pending alerts on Redis (Upstash): the list `<ns>:al` that gate.lua pushes each
crossing onto, read and trimmed here by the delivery, over the admin client (upstash-redis).

    <ns>:al   list of "<label> <used> <limit> <period start> <period end> <at> <tier>
              <account>", the fields joined by newlines, the account (free-form) last

A scheduled run's calls, not a request's: each is bounded by `timeout_s`, and any failure to
get an answer is StoreUnavailable (the crossings stay pending for the next run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..lazy import Lazy
from ..store.bounded import bounded
from ..usage import AlertCrossing

if TYPE_CHECKING:
    from upstash_redis.asyncio import Redis

__all__ = ["UpstashAlertQueue", "alert_entry", "alert_text"]


class UpstashAlertQueue:
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
        self._list = f"{namespace}:al"
        self._timeout_s = timeout_s

    async def alerts(self, limit: int = 100) -> list[AlertCrossing]:
        if limit <= 0:  # LRANGE 0 -1 would be all of them
            return []
        entries = await bounded(
            lambda: self._client.get().lrange(self._list, 0, limit - 1), self._timeout_s
        )
        return [alert_entry(str(entry)) for entry in entries or []]

    async def alerts_delivered(self, crossings: Sequence[AlertCrossing]) -> None:
        if not crossings:
            return
        pipe = self._client.get().pipeline()
        for crossing in crossings:
            pipe.execute(["LREM", self._list, "1", alert_text(crossing)])
        await bounded(pipe.exec, self._timeout_s)

    async def alerts_requeue(self, crossings: Sequence[AlertCrossing]) -> None:
        if not crossings:
            return
        # All or none: an entry is never lost between LREM and RPUSH.
        tx = self._client.get().multi()
        for crossing in crossings:
            entry = alert_text(crossing)
            tx.execute(["LREM", self._list, "1", entry])
            tx.execute(["RPUSH", self._list, entry])
        await bounded(tx.exec, self._timeout_s)


def alert_text(c: AlertCrossing) -> str:
    """The entry gate.lua queued for this crossing, rebuilt from its fields."""
    fields = [c.label, c.used, c.limit, c.period_start_ms, c.period_end_ms, c.at_ms]
    return "\n".join([*(str(f) for f in fields), c.tier, c.account_id])


def alert_entry(entry: str) -> AlertCrossing:
    """An entry of <ns>:al as gate.lua queues it; the account, free-form, last."""
    label, used, limit, start, end, at, tier, account = entry.split("\n", 7)
    return AlertCrossing(account, tier, label, int(used), int(limit), int(start), int(end), int(at))
