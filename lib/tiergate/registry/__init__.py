"""The registry: the durable source of truth for keys, accounts and processed Stripe events.
(The feature rooms keep their own storage beside it, in the same table: the meter's outbox,
the alerts' ledger and contacts.)

The rules (what "live" means, the live-key bound, event ordering) are written once, in
`rules` and `base.RegistryBase`; each backend (`memory/`, `dynamo/`) supplies primitives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .records import Account, KeyRecord
from .rules import MAX_LIVE_KEYS
from .subscriptions import Applied, EventRecord, Outcome, SubscriptionUpdate, updated_account

__all__ = [
    "MAX_LIVE_KEYS",
    "Account",
    "Applied",
    "EventRecord",
    "KeyRecord",
    "Outcome",
    "Registry",
    "SubscriptionUpdate",
    "updated_account",
]


class Registry(Protocol):
    """Implementations raise `StoreUnavailable` when they cannot answer, `NotFound` when a
    write names an account that does not exist, and `TooManyKeys` past MAX_LIVE_KEYS."""

    async def hot_state(self, digest: str) -> tuple[KeyRecord, Account] | None:
        """A key and its account, in at most one read; None when the key was never issued.

        For a revoked or expired key the account may be stale: use only the key.
        """
        ...

    async def get_key(self, digest: str) -> KeyRecord | None: ...

    async def put_key(self, record: KeyRecord) -> None:
        """Create or replace a key of an existing account."""
        ...

    async def put_account(self, account: Account) -> None:
        """Create or replace an account (its keys follow it)."""
        ...

    async def get_account(self, account_id: str) -> Account | None: ...

    async def update_account(
        self, account_id: str, change: Callable[[Account], Account]
    ) -> Account:
        """Apply `change` to the stored account atomically (re-read and applied again when
        a concurrent write won); NotFound when there is no such account."""
        ...

    async def list_keys(self, account_id: str) -> list[KeyRecord]:
        """The account's keys, revoked ones included, oldest first."""
        ...

    async def account_for_customer(self, customer_id: str) -> str | None:
        """The account whose Stripe customer this is, once an event has linked them."""
        ...

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
        ...
