"""The DynamoDB registry: one table, conditional writes, one transaction per change.

It supplies only the primitives; the rules are `RegistryBase`'s, as for the in-process one.
Each key item carries a copy of its account (see `items`), so a hot-state miss is one
GetItem. The price is paid on the rare write path: an account write rewrites its live keys'
copies in the same transaction, and every write is guarded by the account's version, so a
key created while a webhook lands can never keep an older copy (the loser re-reads, retries).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...clock import Clock
from ..base import RegistryBase
from ..changes import Change, Committed, Snapshot
from ..records import Account, KeyRecord
from ..subscriptions import EventRecord
from .client import TableCalls
from .items import (
    Item,
    account_key,
    customer_key,
    event_item,
    event_key,
    key_from,
    key_key,
    stored_from,
)
from .transaction import NEW_ITEM, transact_items

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["DynamoRegistry"]


class DynamoRegistry(RegistryBase):
    def __init__(
        self,
        client: DynamoDBClient | Callable[[], DynamoDBClient],
        table: str,
        *,
        clock: Clock | None = None,
    ) -> None:
        """`client` is a client, or a function that makes one when it is first needed."""
        super().__init__(clock)
        self._calls = TableCalls(client, table)

    async def hot_state(self, digest: str) -> tuple[KeyRecord, Account] | None:
        item = await self._calls.get(key_key(digest))
        return None if item is None else key_from(item)

    async def get_key(self, digest: str) -> KeyRecord | None:
        found = await self.hot_state(digest)
        return None if found is None else found[0]

    async def account_for_customer(self, customer_id: str) -> str | None:
        item = await self._calls.get(customer_key(customer_id))
        return None if item is None else str(item["a"]["S"])

    async def _snapshot(
        self, account_id: str, *, digest: str | None = None, event_id: str | None = None
    ) -> Snapshot:
        if digest is None and event_id is None:  # one item: a plain consistent read
            item = await self._calls.get(account_key(account_id))
            return Snapshot(None if item is None else stored_from(item))
        # Several items at one instant (TransactGetItems): a BatchGetItem could see the
        # account after a concurrent delivery's commit but its event item from before it.
        keys: list[Item] = [account_key(account_id)]
        if digest is not None:
            keys.append(key_key(digest))
        if event_id is not None:
            keys.append(event_key(event_id))
        account, *others = await self._calls.get_at_once(keys)
        key = others.pop(0) if digest is not None else None
        event = others.pop(0) if event_id is not None else None
        return Snapshot(
            None if account is None else stored_from(account),
            key=None if key is None else key_from(key)[0],
            event_seen=event is not None,
        )

    async def _read_keys(self, digests: list[str]) -> list[KeyRecord]:
        found = await self._calls.get_many([key_key(d) for d in digests])
        return [key_from(item)[0] for item in found]

    async def _record_event(self, event: EventRecord) -> bool:
        return await self._calls.put_if(event_item(event), NEW_ITEM)

    async def _commit(self, change: Change) -> Committed:
        failed = await self._calls.transact(transact_items(change, self._calls.table))
        if failed is None:
            return "committed"
        if failed == 0 and change.event is not None:
            return "duplicate"  # the event's put comes first: it was recorded before
        return "conflict"
