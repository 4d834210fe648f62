"""The delivery ledger in the registry's DynamoDB table: one item per crossing and channel,

    ALRT#<crossing id>#<channel>   st settled (1: delivered or given up), lu lease until (ms),
                                   ttl (DynamoDB TTL, s: kept a week, long after the
                                   crossing has left the pending list)

each write a single conditional UpdateItem: a claim succeeds only on an item not settled
whose lease (if any) has run out, so two runs never hold one channel of one crossing at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..lazy import Lazy
from ..registry.dynamo.client import ConditionFailed, call_dynamodb
from .channels import Channel
from .ledger import Claim

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["DynamoLedger"]

_RETENTION_S = 7 * 86_400
_FREE = "attribute_not_exists(st) AND (attribute_not_exists(lu) OR lu <= :now)"
_OURS = "lu = :until"


class DynamoLedger:
    def __init__(self, client: DynamoDBClient | Callable[[], DynamoDBClient], table: str) -> None:
        """`client` is a client, or a function that makes one when it is first needed."""
        self._client: Lazy[DynamoDBClient] = Lazy.of(client)
        self._table = table

    async def claim(
        self, crossing_id: str, channel: Channel, *, now_ms: int, until_ms: int
    ) -> Claim:
        try:
            await self._update(
                crossing_id,
                channel,
                "SET lu = :until, #ttl = if_not_exists(#ttl, :ttl)",
                condition=_FREE,
                values={
                    ":until": {"N": str(until_ms)},
                    ":now": {"N": str(now_ms)},
                    ":ttl": {"N": str(now_ms // 1000 + _RETENTION_S)},
                },
                names={"#ttl": "ttl"},
            )
        except ConditionFailed as failed:
            item = _old_item(failed)
            return "settled" if "st" in item else "busy"
        return "claimed"

    async def settle(self, crossing_id: str, channel: Channel, *, now_ms: int) -> None:
        await self._update(
            crossing_id,
            channel,
            "SET st = :one, #ttl = if_not_exists(#ttl, :ttl) REMOVE lu",
            values={":one": {"N": "1"}, ":ttl": {"N": str(now_ms // 1000 + _RETENTION_S)}},
            names={"#ttl": "ttl"},
        )

    async def release(self, crossing_id: str, channel: Channel, *, until_ms: int) -> None:
        # A failed condition: our lease had run out and a later run took it; it is theirs.
        with contextlib.suppress(ConditionFailed):
            await self._update(
                crossing_id,
                channel,
                "REMOVE lu",
                condition=_OURS,
                values={":until": {"N": str(until_ms)}},
            )

    async def _update(
        self,
        crossing_id: str,
        channel: Channel,
        expression: str,
        *,
        values: dict[str, Any],
        condition: str | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        args: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": f"ALRT#{crossing_id}#{channel}"}},
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if condition is not None:
            args["ConditionExpression"] = condition
            args["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if names:
            args["ExpressionAttributeNames"] = names
        await call_dynamodb(lambda: self._client.get().update_item(**args), self._table)


def _old_item(failed: ConditionFailed) -> dict[str, Any]:
    """The item as it was when the condition failed (ALL_OLD), from the boto3 error."""
    response = getattr(failed.__cause__, "response", None) or {}
    item: dict[str, Any] = response.get("Item") or {}
    return item
