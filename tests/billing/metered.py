"""A meter index whose overage counts a test sets by hand: the meter push's input, apart from
the gate that counts it in production (store/gate.lua, store/memory.py)."""

from __future__ import annotations

import dataclasses

from tiergate.meter.index_memory import MemoryMeterIndex
from tiergate.usage import MeteredPeriod, MeterMark

__all__ = ["MeteredIndex"]


class MeteredIndex(MemoryMeterIndex):
    """The in-process index, over counts set here rather than by an in-process store."""

    def __init__(self) -> None:
        self._counts: dict[MeterMark, MeteredPeriod] = {}
        super().__init__(self._counts)

    def count(self, account: str, start_ms: int, end_ms: int, meter: str, units: int) -> None:
        """`units` more overage counted for the account's period and meter."""
        key = (account, start_ms, meter)
        old = self._counts.get(key) or MeteredPeriod(account, start_ms, end_ms, meter, 0)
        self._counts[key] = dataclasses.replace(old, units=old.units + units)

    def reset(self, account: str, start_ms: int, meter: str) -> None:
        """The counter lost, as when Redis loses its data."""
        self._counts.pop((account, start_ms, meter), None)
