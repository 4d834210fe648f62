"""A hot store whose overage counts a test sets by hand: the meter push's input, apart from
the gate that counts it in production (store/gate.lua, store/memory.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

from tiergate.store.memory import MemoryStore
from tiergate.usage import MeteredPeriod

__all__ = ["MeteredStore"]


class MeteredStore(MemoryStore):
    """The in-process store, with `metered()` and `forget_metered()` over counts set here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._periods: dict[tuple[str, int, str], MeteredPeriod] = {}

    def count(self, account: str, start_ms: int, end_ms: int, meter: str, units: int) -> None:
        """`units` more overage counted for the account's period and meter."""
        key = (account, start_ms, meter)
        old = self._periods.get(key) or MeteredPeriod(account, start_ms, end_ms, meter, 0)
        self._periods[key] = dataclasses.replace(old, units=old.units + units)

    def reset(self, account: str, start_ms: int, meter: str) -> None:
        """The counter lost, as when Redis loses its data."""
        self._periods.pop((account, start_ms, meter), None)

    async def metered(self) -> list[MeteredPeriod]:
        return list(self._periods.values())

    async def forget_metered(self, period: MeteredPeriod) -> None:
        self._periods.pop((period.account_id, period.period_start_ms, period.meter), None)
