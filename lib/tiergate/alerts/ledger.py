"""What has been done with each crossing on each channel, so that a crossing that stays
pending (its other channel failed) is never sent again where it already arrived, and two
runs at once (a cron's retry overlapping the next run, a host's background task beside a
scheduled function) do not both send it.

Per (crossing id, channel): *settled* once delivered or given up (final), else *leased*
while one run holds it (until the lease runs out: a run that crashed mid-send frees it for
a later run, which sends again under the same webhook-id, so at least once), else free.

The records are kept in a claim/settle ledger (tiergate/ledger/): `LEASE_RULES` here are the
rules the in-process ledger runs, `ledger_dynamo` the same as DynamoDB conditions, and
`LeaseLedger` the delivery's three calls over either. `MemoryLedger` (the embedded default)
and `ledger_dynamo.DynamoLedger` (items in the registry's table) are the two backends.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from ..ledger import memory
from .channels import Channel

if TYPE_CHECKING:
    from ..ledger import Ledger

__all__ = [
    "LEASE_RULES",
    "RETENTION_MS",
    "Claim",
    "DeliveryLedger",
    "Lease",
    "LeaseChange",
    "LeaseLedger",
    "MemoryLedger",
    "Release",
    "Settle",
    "Take",
    "expiry_s",
    "lease_pk",
]

# claimed: this run may send; settled: delivered or given up before; busy: another run holds it
Claim = Literal["claimed", "settled", "busy"]

# A record is kept a week: long after its crossing has left the pending list.
RETENTION_MS = 7 * 86_400_000


class DeliveryLedger(Protocol):
    async def claim(
        self, crossing_id: str, channel: Channel, *, now_ms: int, until_ms: int
    ) -> Claim:
        """Take the channel of this crossing until `until_ms`, unless it is settled or
        another run's lease is still running at `now_ms`."""
        ...

    async def settle(self, crossing_id: str, channel: Channel, *, now_ms: int) -> None:
        """Delivered, or given up on: never send it on this channel again."""
        ...

    async def release(self, crossing_id: str, channel: Channel, *, until_ms: int) -> None:
        """This run failed to send: free the lease it took (the one ending at `until_ms`,
        not a later run's), so that the next run tries again at once."""
        ...


@dataclass(frozen=True, slots=True)
class Lease:
    until_ms: int = 0  # 0: nobody holds it
    settled: bool = False
    expires_ms: int = 0  # when the record may be forgotten (DynamoDB's TTL)


@dataclass(frozen=True, slots=True)
class Take:
    now_ms: int
    until_ms: int


@dataclass(frozen=True, slots=True)
class Settle:
    now_ms: int


@dataclass(frozen=True, slots=True)
class Release:
    until_ms: int


LeaseChange = Take | Settle | Release


class _LeaseRules:
    def holds(self, stored: Lease | None, change: LeaseChange) -> bool:
        if isinstance(change, Take):
            return stored is None or (not stored.settled and stored.until_ms <= change.now_ms)
        if isinstance(change, Release):  # only the lease it took, not a later run's
            return stored is not None and stored.until_ms == change.until_ms
        return True

    def applied(self, stored: Lease | None, change: LeaseChange) -> Lease:
        if isinstance(change, Release):
            assert stored is not None  # held
            return dataclasses.replace(stored, until_ms=0)
        # In whole seconds, as DynamoDB's TTL keeps it: both backends agree on the record.
        expires = stored.expires_ms if stored else expiry_s(change.now_ms) * 1000
        if isinstance(change, Take):
            return Lease(change.until_ms, False, expires)
        return Lease(0, True, expires)


LEASE_RULES = _LeaseRules()


def expiry_s(now_ms: int) -> int:
    """When a record first written at `now_ms` may be forgotten (s, DynamoDB's TTL)."""
    return (now_ms + RETENTION_MS) // 1000


def lease_pk(crossing_id: str, channel: Channel) -> str:
    return f"ALRT#{crossing_id}#{channel}"


class LeaseLedger:
    """The delivery ledger over a claim/settle ledger of leases (in process or DynamoDB)."""

    def __init__(self, ledger: Ledger[Lease, LeaseChange]) -> None:
        self._ledger = ledger

    async def claim(
        self, crossing_id: str, channel: Channel, *, now_ms: int, until_ms: int
    ) -> Claim:
        key = lease_pk(crossing_id, channel)
        done, stored = await self._ledger.change(key, Take(now_ms, until_ms))
        if done:
            return "claimed"
        return "settled" if stored is not None and stored.settled else "busy"

    async def settle(self, crossing_id: str, channel: Channel, *, now_ms: int) -> None:
        await self._ledger.change(lease_pk(crossing_id, channel), Settle(now_ms))

    async def release(self, crossing_id: str, channel: Channel, *, until_ms: int) -> None:
        # Not held: our lease had run out and a later run took it; it is theirs.
        await self._ledger.change(lease_pk(crossing_id, channel), Release(until_ms))


def _expired(record: Lease, change: LeaseChange) -> bool:
    return isinstance(change, Take) and record.expires_ms <= change.now_ms


class MemoryLedger(LeaseLedger):
    """In process: the embedded default, where the hot store is in process too."""

    def __init__(self) -> None:
        super().__init__(memory.MemoryLedger(LEASE_RULES, expired=_expired))
