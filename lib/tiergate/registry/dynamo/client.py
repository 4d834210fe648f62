"""The registry's boto3 client: how it is made, the calls made with it, and what their
failures mean to tiergate.

boto3 is synchronous; calls run in a worker thread so the event loop keeps serving. The
client may be made on first use: importing boto3 and building a client costs a cold start
a few hundred milliseconds that most requests (Redis hits) never need.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import StoreUnavailable
from ...lazy import Lazy
from .items import Item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["Cancelled", "ConditionFailed", "TableCalls", "call_dynamodb", "connect"]

_T = TypeVar("_T")
_ATTEMPTS = 5  # reads cancelled by a concurrent transaction, keys left unprocessed


class ConditionFailed(Exception):
    """A conditional write's condition did not hold: an answer, not a failure. `item`: the
    item as stored, when the write asked for it (ReturnValuesOnConditionCheckFailure)."""

    def __init__(self, item: Item | None = None) -> None:
        super().__init__()
        self.item = item


class Cancelled(Exception):
    """A transaction was cancelled; `reasons` says which item's condition failed, if any."""

    def __init__(self, reasons: list[Any]) -> None:
        super().__init__(reasons)
        self.reasons: list[dict[str, Any]] = reasons


def connect(region: str, endpoint_url: str | None, timeout_s: float) -> DynamoDBClient:
    """A client with short timeouts and one retry: the gate has a request waiting."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=config)


async def call_dynamodb(call: Callable[[], _T], table: str) -> _T:
    """Run a boto3 call in a worker thread (boto3 is synchronous), mapping its errors."""
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        return await asyncio.to_thread(call)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed(exc.response.get("Item")) from exc  # type: ignore[arg-type]
        if code == "TransactionCanceledException":
            raise Cancelled(list(exc.response.get("CancellationReasons", []))) from exc
        if code == "ResourceNotFoundException":
            raise StoreUnavailable(
                f"DynamoDB table {table!r} does not exist; `tiergate table create` makes it"
            ) from exc
        raise StoreUnavailable(f"DynamoDB: {code}: {error.get('Message', '')}") from exc
    except (BotoConnectionError, HTTPClientError) as exc:  # refused, timed out, cut
        raise StoreUnavailable(f"DynamoDB unreachable: {exc}") from exc
    except BotoCoreError as exc:  # the client's own trouble: credentials, region
        raise StoreUnavailable(f"DynamoDB client: {exc}") from exc


class TableCalls:
    """The few calls the registry makes on its one table, async, with errors mapped."""

    def __init__(self, client: DynamoDBClient | Callable[[], DynamoDBClient], table: str) -> None:
        """`client` is a client, or a function that makes one when it is first needed."""
        self._client: Lazy[DynamoDBClient] = Lazy.of(client)
        self.table = table

    @property
    def client(self) -> DynamoDBClient:
        return self._client.get()

    async def get(self, key: Item) -> Item | None:
        response = await self._call(
            lambda: self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        )
        item: Item | None = response.get("Item")
        return item

    async def get_at_once(self, keys: list[Item]) -> list[Item | None]:
        """The items at one instant, serialized with transactions (TransactGetItems)."""
        gets: list[Any] = [{"Get": {"TableName": self.table, "Key": k}} for k in keys]
        for _ in range(_ATTEMPTS):
            try:
                response = await self._call(
                    lambda: self.client.transact_get_items(TransactItems=gets)
                )
            except Cancelled:  # a transaction on the same items was in flight: read again
                continue
            return [r.get("Item") or None for r in response["Responses"]]
        raise StoreUnavailable("DynamoDB kept cancelling the read; try again")

    async def get_many(self, keys: list[Item]) -> list[Item]:
        """The items that exist, by BatchGetItem (100 keys a call), in any order."""
        found: list[Item] = []
        for start in range(0, len(keys), 100):
            found.extend(await self._batch_get(keys[start : start + 100]))
        return found

    async def put_if(self, item: Item, condition: str) -> bool:
        """Put an item if `condition` holds; False when it did not."""
        try:
            await self._call(
                lambda: self.client.put_item(
                    TableName=self.table, Item=item, ConditionExpression=condition
                )
            )
        except ConditionFailed:
            return False
        return True

    async def update_if(self, update: dict[str, Any]) -> tuple[bool, Item | None]:
        """One UpdateItem under its ConditionExpression: (True, the item now) or (False, the
        item as stored, None if there is none), in one call either way."""
        request = {
            **update,
            "TableName": self.table,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            response = await self._call(lambda: self.client.update_item(**request))
        except ConditionFailed as failed:
            return False, failed.item or None
        item: Item | None = response.get("Attributes")
        return True, item

    async def transact(self, writes: list[dict[str, Any]]) -> int | None:
        """Run one transaction; None when it committed, else the index of the failed item
        (len(writes) for a clash with a concurrent transaction: nothing failed, retry).

        Only a failed condition or a clash is an answer; anything else raises
        StoreUnavailable.
        """
        try:
            await self._call(
                lambda: self.client.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
            )
        except Cancelled as cancelled:
            for index, reason in enumerate(cancelled.reasons):
                if reason.get("Code") == "ConditionalCheckFailed":
                    return index
            if any(r.get("Code") == "TransactionConflict" for r in cancelled.reasons):
                return len(writes)
            raise StoreUnavailable(
                f"DynamoDB cancelled the transaction: {cancelled.reasons}"
            ) from cancelled
        return None

    async def _batch_get(self, keys: list[Item]) -> list[Item]:
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        found: list[Item] = []
        for _ in range(_ATTEMPTS):
            response = await self._call(
                functools.partial(self.client.batch_get_item, RequestItems=request)
            )
            found.extend(response.get("Responses", {}).get(self.table, []))
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                return found
        raise StoreUnavailable("DynamoDB left keys unprocessed; try again")

    async def _call(self, call: Callable[[], _T]) -> _T:
        return await call_dynamodb(call, self.table)
