"""The ledger in process (the embedded default, and tests): a dict of records, each change
checked against the record as stored and applied without awaiting, so it is atomic on the
event loop as DynamoDB's condition is at commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from . import Rules

__all__ = ["MemoryLedger"]

R = TypeVar("R")
C = TypeVar("C")

# Below this many records a sweep of expired ones is not worth its time.
_SWEEP_AT = 1024


class MemoryLedger(Generic[R, C]):
    def __init__(
        self,
        rules: Rules[R, C],
        *,
        expired: Callable[[R, C], bool] | None = None,
    ) -> None:
        """`expired(record, change)`: whether a record is past its keeping time as of a
        change (as DynamoDB's TTL would have removed it); None keeps every record."""
        self._rules = rules
        self._expired = expired
        self._records: dict[str, R] = {}

    async def read(self, key: str) -> R | None:
        return self._records.get(key)

    async def read_many(self, keys: Sequence[str]) -> dict[str, R]:
        return {k: r for k in dict.fromkeys(keys) if (r := self._records.get(k)) is not None}

    async def change(self, key: str, change: C) -> tuple[bool, R | None]:
        self._forget_expired(change)
        stored = self._records.get(key)
        if not self._rules.holds(stored, change):
            return False, stored
        self._records[key] = record = self._rules.applied(stored, change)
        return True, record

    def _forget_expired(self, change: C) -> None:
        expired = self._expired
        if expired is None or len(self._records) < _SWEEP_AT:
            return
        for key in [k for k, r in self._records.items() if expired(r, change)]:
            del self._records[key]
