"""The registry's write paths, once for every backend: the base owns the rules.

As in AWS Lambda Powertools' idempotency persistence layer, a backend fills in a few
primitives and decides nothing: read an account with its version, and optionally a key and
an event, at one instant (`_snapshot`); commit a `Change` only if what was read still holds
(`_commit`); record an event that changes nothing (`_record_event`); read keys by digest
(`_read_keys`); plus the plain reads the gate makes (`hot_state`, `get_key`,
`account_for_customer`). Every write is read, decide, commit-if-unchanged; a commit that
finds a change re-reads and decides again, so the rules see one consistent state even when a
webhook and an admin command race (or two deliveries of one event do).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal

from ..clock import Clock, SystemClock
from ..errors import NotFound, StoreUnavailable
from .changes import AccountWrite, Change, Committed, KeyPut, Snapshot, StoredAccount
from .records import Account, KeyRecord
from .rules import keys_after_put, live_keys, order_of, watermark_bound
from .subscriptions import Applied, EventRecord, SubscriptionUpdate, updated_account

__all__ = ["RegistryBase"]

_ATTEMPTS = 5  # races are rare (an admin command against a webhook): re-read, retry


class RegistryBase(ABC):
    """A `Registry` whose rules are fixed here; subclasses supply the primitives."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()  # "live" is judged by it, never by a record

    # -- the primitives ---------------------------------------------------------------

    @abstractmethod
    async def _snapshot(
        self, account_id: str, *, digest: str | None = None, event_id: str | None = None
    ) -> Snapshot:
        """The account (and the key, the event, when named), all as of one instant."""

    @abstractmethod
    async def _commit(self, change: Change) -> Committed:
        """Write every part of `change` atomically, if nothing it was read from changed."""

    @abstractmethod
    async def _record_event(self, event: EventRecord) -> bool:
        """Record an event that changes nothing; False when it was recorded before."""

    @abstractmethod
    async def _read_keys(self, digests: list[str]) -> list[KeyRecord]:
        """The stored records of these keys (those that exist), in any order."""

    @abstractmethod
    async def hot_state(self, digest: str) -> tuple[KeyRecord, Account] | None: ...

    @abstractmethod
    async def get_key(self, digest: str) -> KeyRecord | None: ...

    @abstractmethod
    async def account_for_customer(self, customer_id: str) -> str | None: ...

    # -- the rules --------------------------------------------------------------------

    async def get_account(self, account_id: str) -> Account | None:
        stored = (await self._snapshot(account_id)).account
        return None if stored is None else stored.account

    async def list_keys(self, account_id: str) -> list[KeyRecord]:
        """The account's keys, revoked and expired ones included, oldest first."""
        stored = (await self._snapshot(account_id)).account
        if stored is None:
            return []
        records = await self._read_keys(sorted(stored.all_keys))
        return sorted(records, key=lambda r: (r.created_at_ms, r.digest))

    async def put_account(self, account: Account) -> None:
        for _ in range(_ATTEMPTS):
            stored = (await self._snapshot(account.account_id)).account
            if await self._commit(Change((self._rewrite(stored, account),))) == "committed":
                return
        raise StoreUnavailable(f"account {account.account_id!r} kept changing; try again")

    async def update_account(
        self, account_id: str, change: Callable[[Account], Account]
    ) -> Account:
        """`change` applied to the account as stored, committed only if nothing wrote it in
        between (else re-read and applied again): an admin edit never undoes a webhook's."""
        for _ in range(_ATTEMPTS):
            stored = (await self._snapshot(account_id)).account
            if stored is None:
                raise NotFound(f"no account {account_id!r}")
            account = change(stored.account)
            if await self._commit(Change((self._rewrite(stored, account),))) == "committed":
                return account
        raise StoreUnavailable(f"account {account_id!r} kept changing; try again")

    async def put_key(self, record: KeyRecord) -> None:
        """Create or replace a key; a key put under another account leaves its former one."""
        for _ in range(_ATTEMPTS):
            read = await self._snapshot(record.account_id, digest=record.digest)
            if read.account is None:
                raise NotFound(f"no account {record.account_id!r}")
            stored = read.account
            live = keys_after_put(stored.live_keys, record, self._clock.now_ms())
            writes = [
                AccountWrite(
                    stored.account,
                    live,
                    stored.all_keys | {record.digest},
                    stored.version,
                    fields_changed=False,
                )
            ]
            owner = read.key.account_id if read.key else None
            if owner is not None and owner != record.account_id:
                former = (await self._snapshot(owner)).account
                if former is not None:  # its writes would go on reaching the key's copy
                    writes.append(self._without_key(former, record.digest))
            key = KeyPut(record, stored.account, owner)
            if await self._commit(Change(tuple(writes), key=key)) == "committed":
                return
        raise StoreUnavailable(f"account {record.account_id!r} kept changing; try again")

    async def apply_event(
        self,
        event: EventRecord,
        update: SubscriptionUpdate | None,
        *,
        default_tier: str,
        same_second_ok: bool = False,
    ) -> Applied:
        """Record the event and apply its update, atomically, exactly once.

        The update applies only if the event is newer than the account's watermark (or of
        the same second, with same_second_ok, for state re-read from Stripe).
        """
        if update is None:
            return await self._recorded(event, "recorded")
        for _ in range(_ATTEMPTS):
            read = await self._snapshot(update.account_id, event_id=event.event_id)
            if read.event_seen:
                return Applied("duplicate")
            current = read.account.account if read.account else None
            order = order_of(event.created_s, current.watermark if current else None)
            if order == "older":
                return await self._recorded(event, "stale")
            if order == "same-second" and not same_second_ok:
                return Applied("same-second")  # nothing recorded: the re-read applies it
            account = updated_account(
                current, update, watermark=event.created_s, default_tier=default_tier
            )
            if account is None:
                return await self._recorded(event, "recorded")
            bound = watermark_bound(event.created_s, same_second_ok=same_second_ok)
            write = dataclasses.replace(
                self._rewrite(read.account, account), watermark_at_most=bound
            )
            change = Change((write,), event=event)
            committed = await self._commit(change)
            if committed == "committed":
                return Applied("applied", account)
            if committed == "duplicate":
                return Applied("duplicate")  # a concurrent delivery won the race
        raise StoreUnavailable(f"account {update.account_id!r} kept changing; Stripe will retry")

    # -- helpers ----------------------------------------------------------------------

    async def _recorded(self, event: EventRecord, outcome: Literal["recorded", "stale"]) -> Applied:
        """The event recorded as changing nothing, unless a delivery recorded it first."""
        return Applied(outcome if await self._record_event(event) else "duplicate")

    def _rewrite(self, stored: StoredAccount | None, account: Account) -> AccountWrite:
        """The account's new fields, reaching every key still live."""
        if stored is None:
            return AccountWrite(account, {}, frozenset(), None)
        live = live_keys(stored.live_keys, self._clock.now_ms())
        return AccountWrite(account, live, stored.all_keys, stored.version)

    def _without_key(self, stored: StoredAccount, digest: str) -> AccountWrite:
        live = {d: x for d, x in stored.live_keys.items() if d != digest}
        return AccountWrite(
            stored.account, live, stored.all_keys - {digest}, stored.version, fields_changed=False
        )
