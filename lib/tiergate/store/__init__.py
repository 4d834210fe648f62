"""Hot-state stores: where the gate keeps counters and the hot copy of accounts and keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..decision import Check, Verdict
from ..hotstate import AccountState, KeyState

__all__ = ["Charge", "HotStore"]


@dataclass(frozen=True, slots=True)
class Charge:
    """What an admitted request was charged, as its verdict said."""

    account_id: str
    period_start_ms: int
    cost: int
    idempotency_key: str = ""  # the key's hash, when the request held one


class HotStore(Protocol):
    """One call per admission; implementations must decide atomically.

    Raise `StoreUnavailable` on any failure to get an answer in time.
    """

    async def check(self, check: Check) -> Verdict:
        """Decide, and when admitted consume burst and quota and create the Idempotency-Key's
        record (in flight, owned by `check.request_id`)."""
        ...

    async def complete(
        self, request_id: str, account_id: str, idempotency_key: str, response: str | None
    ) -> None:
        """Keep the first response of an Idempotency-Key (None: too large to keep)."""
        ...

    async def refund(self, request_id: str, charge: Charge) -> None:
        """Give back a non-billable request's quota and forget its Idempotency-Key."""
        ...

    async def write(
        self,
        *,
        keys: Mapping[str, KeyState | None] | None = None,
        accounts: Sequence[AccountState] = (),
        unknown_key_ttl_ms: int = 60_000,
    ) -> None:
        """Write hot state through, in one call. A key mapped to None is cached as unknown."""
        ...

    async def used(self, account_id: str, period_start_ms: int) -> int:
        """Billable units counted in the period starting at `period_start_ms`."""
        ...

    async def aclose(self) -> None: ...
