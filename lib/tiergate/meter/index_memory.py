"""The meter index in process: the counts the in-process store's decision keeps (MemoryStore's
`metered`), listed and forgotten here by the push."""

from __future__ import annotations

from ..usage import MeteredPeriod, MeterMark

__all__ = ["MemoryMeterIndex"]


class MemoryMeterIndex:
    def __init__(self, metered: dict[MeterMark, MeteredPeriod]) -> None:
        """`metered`: the in-process store's (changed in place: the store keeps counting)."""
        self._metered = metered

    async def metered(self) -> list[MeteredPeriod]:
        return list(self._metered.values())

    async def forget_metered(self, period: MeteredPeriod) -> None:
        self._metered.pop(period.mark, None)
