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
    overage: int = 0  # of `cost`, the units past the limit (counted for `meter`)
    route: str = ""  # the route template the units were counted under
    meter: str = ""


class HotStore(Protocol):
    """One call per admission; implementations must decide atomically.

    Raise `StoreUnavailable` on any failure to get an answer in time.
    """

    async def check(self, check: Check) -> Verdict:
        """Decide, and when admitted consume burst and quota and create the Idempotency-Key's
        record (in flight, owned by `check.request_id`).

        A request id decided before gets its recorded verdict back and is not charged again
        (`Code.ABANDONED` once it was refunded). A store that can lose answers asks again with
        the same id, `retry` set, within its time budget.
        """
        ...

    async def complete(
        self, request_id: str, account_id: str, idempotency_key: str, response: str | None
    ) -> bool:
        """Keep the first response of an Idempotency-Key (None: too large to keep); False
        when the key's record is no longer this request's (in flight past its TTL)."""
        ...

    async def refund(self, request_id: str, charge: Charge | None) -> None:
        """Give back what request `request_id` was charged and forget its Idempotency-Key,
        exactly once; then no late copy of its first call may charge anything.

        `charge` is what its verdict said, or None when its answer was lost: the store's
        record of the request, if the call ran, says what to give back.
        """
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

    async def routes(self, account_id: str, period_start_ms: int) -> dict[str, int]:
        """Billable units by route template in the period starting at `period_start_ms`."""
        ...

    async def aclose(self) -> None: ...
