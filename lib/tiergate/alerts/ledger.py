"""What has been done with each crossing on each channel, so that a crossing that stays
pending (its other channel failed) is never sent again where it already arrived, and two
runs at once (a cron's retry overlapping the next run, a host's background task beside a
scheduled function) do not both send it.

Per (crossing id, channel): *settled* once delivered or given up (final), else *leased*
while one run holds it (until the lease runs out: a run that crashed mid-send frees it for
a later run, which sends again under the same webhook-id, so at least once), else free.

Two backends with one meaning: `MemoryLedger` (the embedded default, in process) and
`DynamoLedger` (`ledger_dynamo`, items in the registry's table, conditional writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from .channels import Channel

__all__ = ["Claim", "DeliveryLedger", "MemoryLedger"]

# claimed: this run may send; settled: delivered or given up before; busy: another run holds it
Claim = Literal["claimed", "settled", "busy"]


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


@dataclass(slots=True)
class _Entry:
    lease_until_ms: int = 0
    settled: bool = False
    expires_ms: int = 0


class MemoryLedger:
    """In process: the embedded default, where the hot store is in process too."""

    def __init__(self, *, retention_ms: int = 7 * 86_400_000) -> None:
        self._entries: dict[tuple[str, Channel], _Entry] = {}
        self._retention_ms = retention_ms  # as the DynamoDB items' TTL

    async def claim(
        self, crossing_id: str, channel: Channel, *, now_ms: int, until_ms: int
    ) -> Claim:
        self._forget_expired(now_ms)
        entry = self._entries.setdefault(
            (crossing_id, channel), _Entry(expires_ms=now_ms + self._retention_ms)
        )
        if entry.settled:
            return "settled"
        if entry.lease_until_ms > now_ms:
            return "busy"
        entry.lease_until_ms = until_ms
        return "claimed"

    async def settle(self, crossing_id: str, channel: Channel, *, now_ms: int) -> None:
        entry = self._entries.setdefault(
            (crossing_id, channel), _Entry(expires_ms=now_ms + self._retention_ms)
        )
        entry.settled = True
        entry.lease_until_ms = 0

    async def release(self, crossing_id: str, channel: Channel, *, until_ms: int) -> None:
        entry = self._entries.get((crossing_id, channel))
        if entry is not None and entry.lease_until_ms == until_ms:
            entry.lease_until_ms = 0

    def _forget_expired(self, now_ms: int) -> None:
        if len(self._entries) < 1024:  # small: not worth a sweep on every claim
            return
        for key in [k for k, e in self._entries.items() if e.expires_ms <= now_ms]:
            del self._entries[key]
