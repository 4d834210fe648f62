"""The meter outbox in process (the embedded default, and tests): its records in an in-process
claim/settle ledger, each change checked at commit as DynamoDB checks a condition; the
accounts' Stripe customers asked of the registry the accounts are in."""

from __future__ import annotations

from collections.abc import Sequence

from ..ledger.memory import MemoryLedger
from ..registry import Registry
from .outbox import OUTBOX_RULES, LedgerOutbox

__all__ = ["MemoryMeterOutbox"]


class MemoryMeterOutbox(LedgerOutbox):
    def __init__(self, registry: Registry) -> None:
        """`registry`: where the accounts are (an in-process one: a read per account costs
        nothing, so there is no batch to make)."""
        super().__init__(MemoryLedger(OUTBOX_RULES))
        self._registry = registry

    async def customer_ids(self, account_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for account_id in dict.fromkeys(account_ids):
            account = await self._registry.get_account(account_id)
            if account is not None:
                found[account_id] = account.customer_id
        return found
