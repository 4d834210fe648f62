"""The in-process registry, for `tiergate serve` on a bare machine and for tests.

Every method runs to completion without awaiting, so each is atomic on the event loop: the
same guarantees the DynamoDB registry gets from conditional writes and transactions.
"""

from __future__ import annotations

from ..errors import NotFound, TooManyKeys
from . import MAX_LIVE_KEYS
from .records import Account, KeyRecord
from .subscriptions import Applied, EventRecord, SubscriptionUpdate, updated_account

__all__ = ["MemoryRegistry"]


class MemoryRegistry:
    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}
        self._accounts: dict[str, Account] = {}
        self._customers: dict[str, str] = {}
        self._events: dict[str, EventRecord] = {}
        self.reads = 0  # hot-state reads served, so tests can see the steady state makes none

    async def hot_state(self, digest: str) -> tuple[KeyRecord, Account] | None:
        self.reads += 1
        record = self._keys.get(digest)
        if record is None:
            return None
        account = self._accounts.get(record.account_id)
        return None if account is None else (record, account)

    async def get_key(self, digest: str) -> KeyRecord | None:
        return self._keys.get(digest)

    async def put_key(self, record: KeyRecord) -> None:
        if record.account_id not in self._accounts:
            raise NotFound(f"no account {record.account_id!r}")
        if record.digest not in self._keys and record.usable(record.created_at_ms):
            live = sum(
                1
                for r in self._keys.values()
                if r.account_id == record.account_id and r.usable(record.created_at_ms)
            )
            if live >= MAX_LIVE_KEYS:
                raise TooManyKeys(
                    f"account {record.account_id!r} already has {live} live keys; revoke one first"
                )
        self._keys[record.digest] = record

    async def put_account(self, account: Account) -> None:
        self._store(account)

    async def get_account(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    async def list_keys(self, account_id: str) -> list[KeyRecord]:
        return sorted(
            (r for r in self._keys.values() if r.account_id == account_id),
            key=lambda r: r.created_at_ms,
        )

    async def account_for_customer(self, customer_id: str) -> str | None:
        return self._customers.get(customer_id)

    async def apply_event(
        self,
        event: EventRecord,
        update: SubscriptionUpdate | None,
        *,
        default_tier: str,
        same_second_ok: bool = False,
    ) -> Applied:
        if event.event_id in self._events:
            return Applied("duplicate")
        if update is None:
            self._events[event.event_id] = event
            return Applied("recorded")
        current = self._accounts.get(update.account_id)
        if current is not None and event.created_s <= current.watermark:
            if event.created_s == current.watermark and not same_second_ok:
                return Applied("same-second")
            if event.created_s < current.watermark:
                self._events[event.event_id] = event
                return Applied("stale")
        account = updated_account(
            current, update, watermark=event.created_s, default_tier=default_tier
        )
        self._events[event.event_id] = event
        if account is None:
            return Applied("recorded")
        self._store(account)
        return Applied("applied", account)

    def _store(self, account: Account) -> None:
        self._accounts[account.account_id] = account
        if account.customer_id:
            self._customers[account.customer_id] = account.account_id
