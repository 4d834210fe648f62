"""The write-through: registry records, projected through the tiers, into the hot store.

Everything that changes the registry (admin commands, the webhook, the gate's miss path, and
metering next) writes the hot state through here, so the projection (an account's limits
resolved against its tier, the past-due grace turned into a deadline) lives in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .hotstate import AccountState, KeyState, account_state, key_state
from .registry import Account, KeyRecord
from .store import HotStore
from .tiers import Tiers

__all__ = ["Publisher"]


class Publisher:
    def __init__(self, store: HotStore, tiers: Tiers, *, past_due_grace_ms: int) -> None:
        self._store = store
        self._tiers = tiers
        self._past_due_grace_ms = past_due_grace_ms

    def account_state(self, account: Account) -> AccountState:
        """The account as the gate reads it. TierConfigError when its tier is not configured."""
        return account_state(account, self._tiers, self._past_due_grace_ms)

    async def publish(
        self, *, account: Account | None = None, keys: Sequence[KeyRecord] = ()
    ) -> None:
        """Write registry changes through to the hot store, so the next request sees them."""
        await self.publish_states(
            {r.digest: key_state(r) for r in keys},
            [self.account_state(account)] if account else [],
        )

    async def publish_states(
        self, keys: Mapping[str, KeyState | None], accounts: Sequence[AccountState] = ()
    ) -> None:
        """Write states already projected, in one call; a key mapped to None is unknown."""
        await self._store.write(keys=keys, accounts=accounts)
