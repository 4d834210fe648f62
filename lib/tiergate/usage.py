"""Billable usage as the hot store counts it, and what leaves it: overage for Stripe's meter,
and usage alerts for the customer.

The gate's one atomic call counts both as it admits (store/gate.lua, decision.py); the
scheduled runs (`tiergate meter push`, the alert delivery) read them through their rooms' own
storage (meter/index.py, alerts/queue.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["AlertCrossing", "MeterMark", "MeteredPeriod"]

# (account, period start, meter): which overage a count is of.
MeterMark = tuple[str, int, str]


@dataclass(frozen=True, slots=True)
class MeteredPeriod:
    """One account's overage in one period, for one Stripe meter: `units` counted so far
    (admitted past the limit, minus refunds). Listed from the request that first went past
    the limit until the meter push forgets it, after the period has ended."""

    account_id: str
    period_start_ms: int
    period_end_ms: int
    meter: str
    units: int

    @property
    def mark(self) -> MeterMark:
        return (self.account_id, self.period_start_ms, self.meter)


@dataclass(frozen=True, slots=True)
class AlertCrossing:
    """A usage alert that fired: the request that took `account_id` to `used` units crossed
    the threshold `label` ("80", "100": percent of limit; "cap": the overage cap). Recorded
    once per account, period and threshold, inside the gate's atomic call."""

    account_id: str
    tier: str
    label: str
    used: int
    limit: int
    period_start_ms: int
    period_end_ms: int
    at_ms: int

    @property
    def id(self) -> str:
        """Deterministic, so every delivery of this crossing carries the same id (receivers
        deduplicate by it)."""
        text = f"{self.account_id}\n{self.period_start_ms}\n{self.label}"
        return "alert_" + hashlib.sha256(text.encode()).hexdigest()[:32]
