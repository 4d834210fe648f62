"""The meter room's index: every account, period and meter with overage counted, which the
meter push walks (`MeteredPeriod`: the units counted so far, and the period's latest end).

The gate's own atomic call writes it as it admits a unit past the limit (gate.lua sets a field
of `<ns>:m` and counts `<ns>:a:<account>:o:<period start>:<meter>`; the in-process decision
counts into the in-process store's `metered`): that write stays on the request path, in its
one round trip. Listing the periods and forgetting a finished one are the push's, and live
here, one file per backend: `index_memory.py` (the embedded default) and `index_upstash.py`
(Redis). `tests/contract/hot_stores.py` is their table, each row with the hot store whose
counts its index reads.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import StoreUnavailable
from ..usage import MeteredPeriod

__all__ = ["MeterIndex", "NoMeterIndex"]


class MeterIndex(Protocol):
    """Raises `StoreUnavailable` when it cannot answer."""

    async def metered(self) -> list[MeteredPeriod]:
        """Every account and period with overage units counted, not yet forgotten."""
        ...

    async def forget_metered(self, period: MeteredPeriod) -> None:
        """Stop listing `period` (the meter push has sent all of it, and it has ended)."""
        ...


class NoMeterIndex:
    """Parts built on a hot store of the caller's own with no index given: the push fails,
    saying so, rather than reading an empty list while overage goes unbilled."""

    async def metered(self) -> list[MeteredPeriod]:
        raise StoreUnavailable("no meter index: pass wiring.build(meter_index=...) with the store")

    async def forget_metered(self, period: MeteredPeriod) -> None:
        await self.metered()
