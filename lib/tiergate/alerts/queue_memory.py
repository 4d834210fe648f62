"""The pending alerts in process: the list the in-process store's decision appends each
crossing to (MemoryStore's `fired`), read and trimmed here by the delivery."""

from __future__ import annotations

from collections.abc import Sequence

from ..usage import AlertCrossing

__all__ = ["MemoryAlertQueue"]


class MemoryAlertQueue:
    def __init__(self, fired: list[AlertCrossing]) -> None:
        """`fired`: the in-process store's list (changed in place: the store keeps adding)."""
        self._fired = fired

    async def alerts(self, limit: int = 100) -> list[AlertCrossing]:
        return self._fired[: max(0, limit)]

    async def alerts_delivered(self, crossings: Sequence[AlertCrossing]) -> None:
        done = set(crossings)
        self._fired[:] = [crossing for crossing in self._fired if crossing not in done]

    async def alerts_requeue(self, crossings: Sequence[AlertCrossing]) -> None:
        for crossing in crossings:
            if crossing in self._fired:
                self._fired.remove(crossing)
            self._fired.append(crossing)
