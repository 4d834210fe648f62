"""The alert room's storage: the usage alerts the gate queued and the delivery has not done
with yet, oldest first.

The gate's own atomic call queues each crossing once (gate.lua pushes it onto `<ns>:al`; the
in-process decision appends it to the list its queue reads): that write stays on the request
path. Reading, dropping and requeueing are the delivery's, and live here, one file per
backend: `queue_memory.py` (the embedded default) and `queue_upstash.py` (Redis).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..errors import StoreUnavailable
from ..usage import AlertCrossing

__all__ = ["AlertQueue", "NoAlertQueue"]


class AlertQueue(Protocol):
    """Raises `StoreUnavailable` when it cannot answer."""

    async def alerts(self, limit: int = 100) -> list[AlertCrossing]:
        """Usage alerts fired and not yet delivered, oldest first, at most `limit`."""
        ...

    async def alerts_delivered(self, crossings: Sequence[AlertCrossing]) -> None:
        """Drop these from the pending alerts (delivered, or given up on and reported)."""
        ...

    async def alerts_requeue(self, crossings: Sequence[AlertCrossing]) -> None:
        """Move these to the back of the pending alerts, in order (failed this run: the
        others are read first next run). One that is no longer pending is added back; the
        delivery's ledger then says it was settled, and the next run drops it unsent."""
        ...


class NoAlertQueue:
    """Parts built on a hot store of the caller's own with no queue given: the delivery's
    run fails, saying so, rather than reading an empty list while crossings pile up."""

    async def alerts(self, limit: int = 100) -> list[AlertCrossing]:
        raise StoreUnavailable("no alert queue: pass wiring.build(alert_queue=...) with the store")

    async def alerts_delivered(self, crossings: Sequence[AlertCrossing]) -> None:
        await self.alerts()

    async def alerts_requeue(self, crossings: Sequence[AlertCrossing]) -> None:
        await self.alerts()
