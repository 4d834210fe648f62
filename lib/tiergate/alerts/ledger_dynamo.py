"""The delivery ledger's rules (alerts/ledger.py) as DynamoDB items and conditional writes,
for the DynamoDB claim/settle ledger (tiergate/ledger/dynamo.py): one item per crossing and
channel,

    ALRT#<crossing id>#<channel>   st settled (1: delivered or given up), lu lease until (ms),
                                   ttl (DynamoDB TTL, s: kept a week, long after the
                                   crossing has left the pending list)

each change one conditional UpdateItem: a claim succeeds only on an item not settled whose
lease (if any) has run out, so two runs never hold one channel of one crossing at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..ledger.dynamo import DynamoLedger as TableLedger
from ..registry.dynamo.client import TableCalls
from .ledger import Lease, LeaseChange, LeaseLedger, Release, Take, expiry_s

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["LEASE_CODEC", "DynamoLedger"]

_FREE = "attribute_not_exists(st) AND (attribute_not_exists(lu) OR lu <= :now)"
_OURS = "lu = :until"
_TTL = {"#ttl": "ttl"}  # TTL is a reserved word


class _LeaseCodec:
    def update(self, change: LeaseChange) -> dict[str, Any]:
        if isinstance(change, Release):
            return {
                "UpdateExpression": "REMOVE lu",
                "ConditionExpression": _OURS,
                "ExpressionAttributeValues": {":until": _n(change.until_ms)},
            }
        ttl = _n(expiry_s(change.now_ms))
        if isinstance(change, Take):
            return {
                "UpdateExpression": "SET lu = :until, #ttl = if_not_exists(#ttl, :ttl)",
                "ConditionExpression": _FREE,
                "ExpressionAttributeNames": _TTL,
                "ExpressionAttributeValues": {
                    ":until": _n(change.until_ms),
                    ":now": _n(change.now_ms),
                    ":ttl": ttl,
                },
            }
        return {
            "UpdateExpression": "SET st = :one, #ttl = if_not_exists(#ttl, :ttl) REMOVE lu",
            "ExpressionAttributeNames": _TTL,
            "ExpressionAttributeValues": {":one": _n(1), ":ttl": ttl},
        }

    def record(self, item: dict[str, Any]) -> Lease | None:
        return Lease(
            until_ms=int(item["lu"]["N"]) if "lu" in item else 0,
            settled="st" in item,
            expires_ms=int(item["ttl"]["N"]) * 1000 if "ttl" in item else 0,
        )


LEASE_CODEC = _LeaseCodec()


class DynamoLedger(LeaseLedger):
    def __init__(self, client: DynamoDBClient | Callable[[], DynamoDBClient], table: str) -> None:
        """`client` is a client, or a function that makes one when it is first needed."""
        super().__init__(TableLedger(TableCalls(client, table), LEASE_CODEC))


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}
