"""The in-process registry, for `tiergate serve` on a bare machine and for tests.

It supplies only the primitives; the rules are `RegistryBase`'s, as for DynamoDB. Each
primitive runs to completion without awaiting, so each is atomic on the event loop, and
`_commit` checks what was read (versions, watermarks, a key's owner, the event) as DynamoDB's
conditions do: between a read and its commit another task may have written.
"""

from __future__ import annotations

from ...clock import Clock
from ..base import RegistryBase
from ..changes import Change, Committed, Snapshot, StoredAccount
from ..records import Account, KeyRecord
from ..subscriptions import EventRecord

__all__ = ["MemoryRegistry"]


class MemoryRegistry(RegistryBase):
    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self._keys: dict[str, KeyRecord] = {}
        self._accounts: dict[str, StoredAccount] = {}
        self._customers: dict[str, str] = {}
        self._events: dict[str, EventRecord] = {}
        self.reads = 0  # hot-state reads served, so tests can see the steady state makes none

    async def hot_state(self, digest: str) -> tuple[KeyRecord, Account] | None:
        self.reads += 1
        record = self._keys.get(digest)
        stored = None if record is None else self._accounts.get(record.account_id)
        return None if record is None or stored is None else (record, stored.account)

    async def get_key(self, digest: str) -> KeyRecord | None:
        return self._keys.get(digest)

    async def account_for_customer(self, customer_id: str) -> str | None:
        return self._customers.get(customer_id)

    async def _snapshot(
        self, account_id: str, *, digest: str | None = None, event_id: str | None = None
    ) -> Snapshot:
        return Snapshot(
            self._accounts.get(account_id),
            key=None if digest is None else self._keys.get(digest),
            event_seen=event_id is not None and event_id in self._events,
        )

    async def _read_keys(self, digests: list[str]) -> list[KeyRecord]:
        return [self._keys[d] for d in digests if d in self._keys]

    async def _record_event(self, event: EventRecord) -> bool:
        if event.event_id in self._events:
            return False
        self._events[event.event_id] = event
        return True

    async def _commit(self, change: Change) -> Committed:
        if change.event is not None and change.event.event_id in self._events:
            return "duplicate"
        for write in change.accounts:
            stored = self._accounts.get(write.account.account_id)
            if (stored.version if stored else None) != write.read_version:
                return "conflict"
            at_most = write.watermark_at_most
            if stored and at_most is not None and stored.account.watermark > at_most:
                return "conflict"
        if change.key is not None:
            held = self._keys.get(change.key.record.digest)
            if (held.account_id if held else None) != change.key.read_owner:
                return "conflict"
        for write in change.accounts:
            self._accounts[write.account.account_id] = StoredAccount(
                write.account, write.version, dict(write.live_keys), write.all_keys
            )
            if write.fields_changed and write.account.customer_id:
                self._customers[write.account.customer_id] = write.account.account_id
        if change.key is not None:
            self._keys[change.key.record.digest] = change.key.record
        if change.event is not None:
            self._events[change.event.event_id] = change.event
        return "committed"
