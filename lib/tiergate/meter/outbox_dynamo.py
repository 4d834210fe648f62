"""The meter outbox in the registry's DynamoDB table: its rules (meter/outbox.py) as items
and conditional UpdateItems, the codec the DynamoDB claim/settle ledger (tiergate/ledger/
dynamo.py) sends, one item per record:

    MTR#<meter>#<period start>#<account>   a account, m meter, ps/pe period (ms), wm units
        batched (the watermark), st sent, ms missed, sq last batch's number; the pending
        batch: pq its number, pu units, pi identifier, pc claimed at (ms); ttl (s)

The account comes last in the key: meters and period starts hold no '#', account ids may.
The accounts' Stripe customers are read from the registry's own account items (`ACCT#`,
registry/dynamo/items.py), by BatchGetItem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..ledger.dynamo import DynamoLedger
from ..registry.dynamo.client import TableCalls
from ..registry.dynamo.items import Item, account_from, account_key
from .outbox import (
    Batch,
    Claim,
    Decided,
    LedgerOutbox,
    MeterChange,
    MeterKey,
    MeterRecord,
    Settle,
    Skip,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "BATCH_FREE",
    "BATCH_PENDING",
    "NEW_OUTBOX",
    "OUTBOX_CODEC",
    "DynamoMeterOutbox",
    "meter_update",
]

NEW_OUTBOX = "attribute_not_exists(pk)"
BATCH_FREE = "wm = :wm AND attribute_not_exists(pq)"  # the watermark read, nothing pending
BATCH_PENDING = "pq = :seq"  # the pending batch is still the one read

# Long after the hot store stops listing the period (a day after it ends) and after Stripe
# would take an event for it (35 days back): the record outlives every reason to send again.
_KEEP_S = 60 * 86_400
_PENDING = ("pq", "pu", "pi", "pc")


class _OutboxCodec:
    def update(self, change: Decided) -> dict[str, Any]:
        return meter_update(change.read, change.change)

    def record(self, item: Item) -> MeterRecord | None:
        return record_from(item)


OUTBOX_CODEC = _OutboxCodec()


class DynamoMeterOutbox(LedgerOutbox):
    def __init__(self, client: DynamoDBClient | Callable[[], DynamoDBClient], table: str) -> None:
        """`client` is a client, or a function that makes one when it is first needed."""
        self._calls = TableCalls(client, table)
        super().__init__(DynamoLedger(self._calls, OUTBOX_CODEC))

    async def customer_ids(self, account_ids: Sequence[str]) -> dict[str, str]:
        items = await self._calls.get_many([account_key(a) for a in dict.fromkeys(account_ids)])
        return {(a := account_from(item)).account_id: a.customer_id for item in items}


def meter_update(read: MeterRecord, change: MeterChange) -> dict[str, Any]:
    """The UpdateItem arguments (without the table and the key) that commit `change` over
    `read`."""
    values: dict[str, Any] = {":zero": _n(0)}
    if isinstance(change, Settle):
        pending = read.pending
        units = pending.units if pending else 0
        total = "st" if change.sent else "ms"
        values.update({":seq": _n(change.seq), ":units": _n(units)})
        return {
            "UpdateExpression": f"SET {total} = if_not_exists({total}, :zero) + :units"
            f" REMOVE {', '.join(_PENDING)}",
            "ConditionExpression": BATCH_PENDING,
            "ExpressionAttributeValues": values,
        }
    values.update(
        {
            ":a": {"S": read.key.account_id},
            ":m": {"S": read.key.meter},
            ":ps": _n(read.key.period_start_ms),
            ":pe": _n(read.period_end_ms),
            ":ttl": _n(read.period_end_ms // 1000 + _KEEP_S),
        }
    )
    sets = ["a = :a", "m = :m", "ps = :ps", "pe = :pe", "#ttl = :ttl"]
    sets.append("st = if_not_exists(st, :zero)")
    if isinstance(change, Claim):
        batch = change.batch
        values.update(
            {
                ":wm2": _n(read.batched + batch.units),
                ":sq": _n(batch.seq),
                ":pu": _n(batch.units),
                ":pi": {"S": batch.identifier},
                ":pc": _n(batch.claimed_at_ms),
            }
        )
        sets += ["wm = :wm2", "sq = :sq", "pq = :sq", "pu = :pu", "pi = :pi", "pc = :pc"]
        sets.append("ms = if_not_exists(ms, :zero)")
    else:
        assert isinstance(change, Skip)
        values.update({":wm2": _n(read.batched + change.units), ":n": _n(change.units)})
        sets += ["wm = :wm2", "ms = if_not_exists(ms, :zero) + :n", "sq = if_not_exists(sq, :zero)"]
    if read.stored:
        condition = BATCH_FREE
        values[":wm"] = _n(read.batched)
    else:
        condition = NEW_OUTBOX
    return {
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#ttl": "ttl"},  # TTL is a reserved word
        "ExpressionAttributeValues": values,
    }


def record_from(item: Item) -> MeterRecord | None:
    """The record an item holds: every stored one was first written by a claim or a skip,
    which set its account, meter and period."""
    if "wm" not in item:
        return None
    key = MeterKey(item["a"]["S"], _int(item["ps"]), item["m"]["S"])
    pending = None
    if "pq" in item:
        pending = Batch(
            seq=_int(item["pq"]),
            units=_int(item["pu"]),
            identifier=item["pi"]["S"],
            claimed_at_ms=_int(item["pc"]),
        )
    return MeterRecord(
        key,
        _int(item["pe"]),
        batched=_int(item["wm"]),
        sent=_int(item["st"]) if "st" in item else 0,
        missed=_int(item["ms"]) if "ms" in item else 0,
        seq=_int(item["sq"]) if "sq" in item else 0,
        pending=pending,
        stored=True,
    )


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _int(value: dict[str, str]) -> int:
    return int(value["N"])
