"""A hot store that a test can take down and bring back, given to `wiring.build(store=...)`.

The parts hold their store for good (they are built once), so an outage is staged in the
store itself rather than by swapping the gate's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tiergate.alerts.queue import AlertQueue
from tiergate.decision import Check, Verdict
from tiergate.errors import StoreUnavailable
from tiergate.hotstate import AccountState, KeyState
from tiergate.store import Charge, HotStore
from tiergate.usage import AlertCrossing

__all__ = ["FaultyStore"]


class FaultyStore:
    """Passes every call to `inner` until `fail()`; then only the calls named in `working`
    reach it, and the others time out, until `recover()`. A test may replace `inner` (Redis
    lost everything)."""

    def __init__(self, inner: HotStore) -> None:
        self.inner = inner
        self._down = False
        self._working: frozenset[str] = frozenset()

    def fail(self, working: Iterable[str] = ()) -> None:
        self._down = True
        self._working = frozenset(working)

    def recover(self) -> None:
        self._down = False

    def _call(self, call: str) -> HotStore:
        if self._down and call not in self._working:
            raise StoreUnavailable(f"{call}: connection timed out")
        return self.inner

    async def check(self, check: Check) -> Verdict:
        return await self._call("check").check(check)

    async def complete(
        self, request_id: str, account_id: str, idempotency_key: str, response: str | None
    ) -> bool:
        inner = self._call("complete")
        return await inner.complete(request_id, account_id, idempotency_key, response)

    async def refund(self, request_id: str, charge: Charge | None) -> None:
        await self._call("refund").refund(request_id, charge)

    async def write(
        self,
        *,
        keys: Mapping[str, KeyState | None] | None = None,
        accounts: Sequence[AccountState] = (),
        unknown_key_ttl_ms: int = 60_000,
    ) -> None:
        inner = self._call("write")
        await inner.write(keys=keys, accounts=accounts, unknown_key_ttl_ms=unknown_key_ttl_ms)

    async def used(self, account_id: str, period_start_ms: int) -> int:
        return await self._call("used").used(account_id, period_start_ms)

    async def routes(self, account_id: str, period_start_ms: int) -> dict[str, int]:
        return await self._call("routes").routes(account_id, period_start_ms)

    # The alert queue's calls, for an inner store that is also an alert queue (the alert
    # tests' PendingStore): a fault can be injected there as well.
    async def alerts(self, limit: int = 100) -> list[AlertCrossing]:
        queue: AlertQueue = self._call("alerts")  # type: ignore[assignment]
        return await queue.alerts(limit)

    async def alerts_delivered(self, crossings: Sequence[AlertCrossing]) -> None:
        queue: AlertQueue = self._call("alerts_delivered")  # type: ignore[assignment]
        await queue.alerts_delivered(crossings)

    async def alerts_requeue(self, crossings: Sequence[AlertCrossing]) -> None:
        queue: AlertQueue = self._call("alerts_requeue")  # type: ignore[assignment]
        await queue.alerts_requeue(crossings)

    async def aclose(self) -> None:
        await self.inner.aclose()
