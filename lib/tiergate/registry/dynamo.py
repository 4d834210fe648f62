"""The DynamoDB registry: one table, conditional writes, one transaction per change.

Each key item carries a copy of its account (see `dynamo_items`), so a hot-state miss is one
GetItem. The price is paid on the rare write path: an account write rewrites its live keys'
copies in the same transaction, and every write is guarded by the account's version, so a
key created while a webhook lands can never keep an older copy (the loser re-reads, retries).

boto3 is synchronous; calls run in a worker thread so the event loop keeps serving. The
client may be made on first use: importing boto3 and building a client costs a cold start
a few hundred milliseconds that most requests (Redis hits) never need.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..clock import Clock, SystemClock
from ..errors import NotFound, StoreUnavailable, TooManyKeys
from . import MAX_LIVE_KEYS
from .dynamo_client import Cancelled, ConditionFailed, call_dynamodb, connect
from .dynamo_items import (
    Item,
    account_fields,
    account_from,
    account_item,
    account_key,
    all_keys_of,
    customer_item,
    customer_key,
    event_item,
    event_key,
    key_from,
    key_item,
    key_key,
    live_keys_of,
    version_of,
)
from .records import Account, KeyRecord
from .subscriptions import Applied, EventRecord, SubscriptionUpdate, updated_account

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["DynamoRegistry", "connect"]

log = logging.getLogger("tiergate")
_T = TypeVar("_T")

# Conditions, named (as Powertools does) so a cancellation reason can be read against them.
NEW_ITEM = "attribute_not_exists(pk)"
SAME_VERSION = "v = :v"
NEWER_EVENT = "(attribute_not_exists(wm) OR wm < :wm)"
SAME_SECOND_OR_NEWER = "(attribute_not_exists(wm) OR wm <= :wm)"
KEY_EXISTS = "attribute_exists(pk)"
SAME_OWNER = "a = :a"

_ATTEMPTS = 5  # version races are rare (an admin command against a webhook): re-read, retry


class DynamoRegistry:
    def __init__(
        self,
        client: DynamoDBClient | Callable[[], DynamoDBClient],
        table: str,
        *,
        clock: Clock | None = None,
    ) -> None:
        """`client` is a client, or a function that makes one when it is first needed."""
        self._connect = client if callable(client) else lambda: client
        self._made: DynamoDBClient | None = None
        self._lock = threading.Lock()
        self._table = table
        self._clock = clock or SystemClock()

    async def hot_state(self, digest: str) -> tuple[KeyRecord, Account] | None:
        item = await self._get(key_key(digest))
        return None if item is None else key_from(item)

    async def get_key(self, digest: str) -> KeyRecord | None:
        found = await self.hot_state(digest)
        return None if found is None else found[0]

    async def put_key(self, record: KeyRecord) -> None:
        for _ in range(_ATTEMPTS):
            item, held = await self._snapshot(
                [account_key(record.account_id), key_key(record.digest)]
            )
            if item is None:
                raise NotFound(f"no account {record.account_id!r}")
            live = self._live(item)
            all_keys = all_keys_of(item)
            if record.usable(self._clock.now_ms()):
                if record.digest not in live and len(live) >= MAX_LIVE_KEYS:
                    raise TooManyKeys(
                        f"account {record.account_id!r} already has {len(live)} live keys;"
                        " revoke one first"
                    )
                live[record.digest] = record.expires_at_ms
            else:
                live.pop(record.digest, None)  # its copy of the account is no longer kept
            all_keys.add(record.digest)
            account, version = account_from(item), version_of(item)
            put_key: dict[str, Any] = {"TableName": self._table, "Item": key_item(record, account)}
            writes = [{"Put": put_key}, self._put_account(account, version, live, all_keys)]
            if held is None:
                put_key["ConditionExpression"] = NEW_ITEM
            else:  # the key is replaced only as read, so a move is never half-seen
                owner = str(held["a"]["S"])
                put_key["ConditionExpression"] = SAME_OWNER
                put_key["ExpressionAttributeValues"] = {":a": {"S": owner}}
                if owner != record.account_id:
                    writes.append(await self._leave(owner, record.digest))
            if await self._transact(writes) is None:
                return
        raise StoreUnavailable(f"account {record.account_id!r} kept changing; try again")

    async def _leave(self, account_id: str, digest: str) -> dict[str, Any]:
        """The key leaves its former account, whose writes would otherwise go on rewriting
        the key's copy of the account."""
        item = await self._get(account_key(account_id))
        assert item is not None  # a key item is only written with its account
        return {
            "Update": {
                "TableName": self._table,
                "Key": account_key(account_id),
                "UpdateExpression": "REMOVE ks.#d DELETE ka :d SET v = :next",
                "ConditionExpression": SAME_VERSION,
                "ExpressionAttributeNames": {"#d": digest},
                "ExpressionAttributeValues": {
                    ":d": {"SS": [digest]},
                    ":v": {"N": str(version_of(item))},
                    ":next": {"N": str(version_of(item) + 1)},
                },
            }
        }

    async def put_account(self, account: Account) -> None:
        for _ in range(_ATTEMPTS):
            item = await self._get(account_key(account.account_id))
            if await self._transact(self._account_writes(account, item)) is None:
                return
        raise StoreUnavailable(f"account {account.account_id!r} kept changing; try again")

    async def get_account(self, account_id: str) -> Account | None:
        item = await self._get(account_key(account_id))
        return None if item is None else account_from(item)

    async def list_keys(self, account_id: str) -> list[KeyRecord]:
        item = await self._get(account_key(account_id))
        digests = sorted(all_keys_of(item)) if item else []
        records: list[KeyRecord] = []
        for start in range(0, len(digests), 100):  # BatchGetItem takes 100 keys a call
            for found in await self._batch_get([key_key(d) for d in digests[start : start + 100]]):
                records.append(key_from(found)[0])
        return sorted(records, key=lambda r: (r.created_at_ms, r.digest))

    async def account_for_customer(self, customer_id: str) -> str | None:
        item = await self._get(customer_key(customer_id))
        return None if item is None else str(item["a"]["S"])

    async def apply_event(
        self,
        event: EventRecord,
        update: SubscriptionUpdate | None,
        *,
        default_tier: str,
        same_second_ok: bool = False,
    ) -> Applied:
        if update is None:
            return Applied("recorded" if await self._record(event) else "duplicate")
        for _ in range(_ATTEMPTS):
            # One atomic read of both: was the event seen, and what the account holds now.
            # (A BatchGetItem could see the account after a concurrent delivery's commit but
            # its event item from before it.)
            seen, item = await self._snapshot(
                [event_key(event.event_id), account_key(update.account_id)]
            )
            if seen is not None:
                return Applied("duplicate")
            current = account_from(item) if item else None
            if current is not None and event.created_s <= current.watermark:
                if event.created_s < current.watermark:
                    return Applied("stale" if await self._record(event) else "duplicate")
                if not same_second_ok:
                    return Applied("same-second")
            account = updated_account(
                current, update, watermark=event.created_s, default_tier=default_tier
            )
            if account is None:
                return Applied("recorded" if await self._record(event) else "duplicate")
            writes = [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": event_item(event),
                        "ConditionExpression": NEW_ITEM,
                    }
                },
                *self._account_writes(
                    account, item, guard=SAME_SECOND_OR_NEWER if same_second_ok else NEWER_EVENT
                ),
            ]
            failed = await self._transact(writes)
            if failed is None:
                return Applied("applied", account)
            if failed == 0:
                return Applied("duplicate")  # a concurrent delivery won the race
        raise StoreUnavailable(f"account {update.account_id!r} kept changing; Stripe will retry")

    # -- writes ---------------------------------------------------------------------------

    def _account_writes(
        self, account: Account, item: Item | None, *, guard: str | None = None
    ) -> list[dict[str, Any]]:
        """Put the account and refresh every live key's copy of it, as transaction items."""
        version = version_of(item) if item else 0
        live = self._live(item) if item else {}
        all_keys = all_keys_of(item) if item else set()
        put = self._put_account(account, version, live, all_keys, new=item is None, guard=guard)
        copies = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key_key(digest),
                    "UpdateExpression": "SET acct = :acct",
                    "ConditionExpression": KEY_EXISTS,
                    "ExpressionAttributeValues": {":acct": {"M": account_fields(account)}},
                }
            }
            for digest in sorted(live)
        ]
        writes = [put, *copies]
        if account.customer_id:
            writes.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": customer_item(account.customer_id, account.account_id),
                    }
                }
            )
        return writes

    def _put_account(
        self,
        account: Account,
        version: int,
        live: dict[str, int],
        all_keys: set[str],
        *,
        new: bool = False,
        guard: str | None = None,
    ) -> dict[str, Any]:
        condition = NEW_ITEM if new else SAME_VERSION
        values: dict[str, Any] = {} if new else {":v": {"N": str(version)}}
        if guard:
            condition = f"{condition} AND {guard}"
            values[":wm"] = {"N": str(account.watermark)}
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": account_item(account, version=version + 1, live_keys=live, all_keys=all_keys),
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def _live(self, item: Item) -> dict[str, int]:
        """The account's live keys, less those whose rotation grace has run out."""
        now = self._clock.now_ms()
        return {d: x for d, x in live_keys_of(item).items() if not x or x > now}

    async def _record(self, event: EventRecord) -> bool:
        """Record an event that changes nothing; False when it was recorded before."""
        try:
            await self._call(
                lambda: self._client.put_item(
                    TableName=self._table, Item=event_item(event), ConditionExpression=NEW_ITEM
                )
            )
        except ConditionFailed:
            return False
        return True

    async def _transact(self, writes: list[dict[str, Any]]) -> int | None:
        """Run one transaction; None when it committed, else the index of the failed item.

        Only a failed condition is an answer; anything else raises StoreUnavailable.
        """
        try:
            await self._call(
                lambda: self._client.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
            )
        except Cancelled as cancelled:
            for index, reason in enumerate(cancelled.reasons):
                if reason.get("Code") == "ConditionalCheckFailed":
                    return index
            if any(r.get("Code") == "TransactionConflict" for r in cancelled.reasons):
                return len(writes)  # a concurrent transaction on the same items: retry
            raise StoreUnavailable(
                f"DynamoDB cancelled the transaction: {cancelled.reasons}"
            ) from cancelled
        return None

    @property
    def _client(self) -> DynamoDBClient:
        if self._made is None:
            with self._lock:  # worker threads may ask at once; make one client
                if self._made is None:
                    self._made = self._connect()
        return self._made

    # -- reads ----------------------------------------------------------------------------

    async def _get(self, key: Item) -> Item | None:
        response = await self._call(
            lambda: self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        )
        item: Item | None = response.get("Item")
        return item

    async def _snapshot(self, keys: list[Item]) -> list[Item | None]:
        """The items at one instant, serialized with transactions (TransactGetItems)."""
        gets: list[Any] = [{"Get": {"TableName": self._table, "Key": k}} for k in keys]
        for _ in range(_ATTEMPTS):
            try:
                response = await self._call(
                    lambda: self._client.transact_get_items(TransactItems=gets)
                )
            except Cancelled:  # a transaction on the same items was in flight: read again
                continue
            return [r.get("Item") or None for r in response["Responses"]]
        raise StoreUnavailable("DynamoDB kept cancelling the read; try again")

    async def _batch_get(self, keys: list[Item]) -> list[Item]:
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        found: list[Item] = []
        for _ in range(_ATTEMPTS):
            response = await self._call(
                functools.partial(self._client.batch_get_item, RequestItems=request)
            )
            found.extend(response.get("Responses", {}).get(self._table, []))
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                return found
        raise StoreUnavailable("DynamoDB left keys unprocessed; try again")

    async def _call(self, call: Callable[[], _T]) -> _T:
        return await call_dynamodb(call, self._table)
