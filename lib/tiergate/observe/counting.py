"""Counting what a gated request spends on Redis, DynamoDB and Stripe, at the boundary of
each client, into the request's counters (observe/resources.py).

- Redis: `CountedStore` wraps the hot store the gate and the write-through use, and counts
  the commands each call sends as Upstash bills them (per command; a script is one
  command, EVALSHA; a MULTI/EXEC counts the commands inside). Counting the store's calls
  rather than HTTP requests means the in-process store of `tiergate serve` and `--profile`
  counts what Upstash would have billed for the same requests. Not counted: the one EVAL
  after a NOSCRIPT (once per script per Redis) and a lost answer's retries (rare; each
  costs one command more).
- DynamoDB: botocore's own event hooks on the registry's client ask every call for its
  ConsumedCapacity and add the read and write request units DynamoDB reports (exact,
  transactions' double units included); a call that reports none counts its minimum.
- Stripe: `CountedStripe` counts each call of the Stripe gateway (its retries not counted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .resources import spent, spent_on_redis, spent_on_stripe

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from ..billing import StripeApi
    from ..decision import Check, Verdict
    from ..hotstate import AccountState, KeyState
    from ..meter.events import MeterDelivery, MeterEvent
    from ..store import Charge, HotStore

__all__ = ["CountedStore", "CountedStripe", "count_dynamodb_units", "write_commands"]


def write_commands(keys: Mapping[str, object] | None, accounts: Sequence[object]) -> int:
    """Commands in one write-through: DEL, HSET, PEXPIRE per key; HSET, PEXPIRE per account
    (store/upstash.py's `write`, one MULTI/EXEC)."""
    return 3 * len(keys or ()) + 2 * len(accounts)


class CountedStore:
    """A HotStore that counts each call's Redis commands for the request being served."""

    def __init__(self, store: HotStore) -> None:
        self.inner = store

    async def check(self, check: Check) -> Verdict:
        spent_on_redis(1)  # one EVALSHA of gate.lua
        return await self.inner.check(check)

    async def complete(
        self, request_id: str, account_id: str, idempotency_key: str, response: str | None
    ) -> bool:
        spent_on_redis(1)
        return await self.inner.complete(request_id, account_id, idempotency_key, response)

    async def refund(self, request_id: str, charge: Charge | None) -> None:
        spent_on_redis(1)
        await self.inner.refund(request_id, charge)

    async def write(
        self,
        *,
        keys: Mapping[str, KeyState | None] | None = None,
        accounts: Sequence[AccountState] = (),
        unknown_key_ttl_ms: int = 60_000,
    ) -> None:
        spent_on_redis(write_commands(keys, accounts))
        await self.inner.write(keys=keys, accounts=accounts, unknown_key_ttl_ms=unknown_key_ttl_ms)

    async def used(self, account_id: str, period_start_ms: int) -> int:
        spent_on_redis(1)
        return await self.inner.used(account_id, period_start_ms)

    async def routes(self, account_id: str, period_start_ms: int) -> dict[str, int]:
        spent_on_redis(1)
        return await self.inner.routes(account_id, period_start_ms)

    async def aclose(self) -> None:
        await self.inner.aclose()


class CountedStripe:
    """The Stripe gateway, each call counted for the request being served."""

    def __init__(self, stripe: StripeApi) -> None:
        self.inner = stripe

    async def subscription(self, subscription_id: str) -> Mapping[str, Any]:
        spent_on_stripe()
        return await self.inner.subscription(subscription_id)

    async def checkout_url(
        self,
        *,
        account_id: str,
        customer_id: str,
        price: str,
        success_url: str,
        cancel_url: str,
        metered_price: str | None = None,
    ) -> str:
        spent_on_stripe()
        return await self.inner.checkout_url(
            account_id=account_id,
            customer_id=customer_id,
            price=price,
            success_url=success_url,
            cancel_url=cancel_url,
            metered_price=metered_price,
        )

    async def portal_url(self, *, customer_id: str, return_url: str) -> str:
        spent_on_stripe()
        return await self.inner.portal_url(customer_id=customer_id, return_url=return_url)

    async def send_meter_event(self, event: MeterEvent) -> MeterDelivery:
        # The scheduled push's, not a request's: nothing to count it against.
        return await self.inner.send_meter_event(event)

    async def aclose(self) -> None:
        await self.inner.aclose()


# DynamoDB operations and what each costs at least when it reports no ConsumedCapacity:
# (read units, write units) per item; strongly consistent reads, items under 1 KB / 4 KB.
_MINIMUM: dict[str, tuple[float, float]] = {
    "GetItem": (1, 0),
    "BatchGetItem": (1, 0),
    "Query": (1, 0),
    "Scan": (1, 0),
    "TransactGetItems": (2, 0),
    "PutItem": (0, 1),
    "UpdateItem": (0, 1),
    "DeleteItem": (0, 1),
    "BatchWriteItem": (0, 1),
    "TransactWriteItems": (0, 2),
}
_READS = frozenset(op for op, (reads, _) in _MINIMUM.items() if reads)


def count_dynamodb_units(client: DynamoDBClient) -> DynamoDBClient:
    """Register the hooks on `client` (once per client; returns it)."""
    events = client.meta.events
    events.register("provide-client-params.dynamodb.*", _ask_for_capacity)
    events.register("after-call.dynamodb.*", _add_capacity)
    return client


def _ask_for_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
    if model.name in _MINIMUM and spent() is not None:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")


def _add_capacity(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
    found = spent()
    if found is None or model.name not in _MINIMUM:
        return
    reported = parsed.get("ConsumedCapacity")
    if isinstance(reported, dict):
        reported = [reported]
    reads = writes = 0.0
    if reported:
        for entry in reported:
            units = float(entry.get("CapacityUnits") or 0)
            read = entry.get("ReadCapacityUnits")
            write = entry.get("WriteCapacityUnits")
            if read is not None or write is not None:
                reads += float(read or 0)
                writes += float(write or 0)
            elif model.name in _READS:
                reads += units
            else:
                writes += units
    else:
        reads, writes = _minimum(model.name, parsed)
    found.dynamodb_reads += reads
    found.dynamodb_writes += writes


def _minimum(operation: str, parsed: Mapping[str, Any]) -> tuple[float, float]:
    """The least a call can have cost: its minimum per item read (a transaction's written
    items are not in its answer: counted as one)."""
    reads, writes = _MINIMUM[operation]
    items = parsed.get("Responses")
    n = 1
    if operation == "BatchGetItem" and isinstance(items, Mapping):
        n = sum(len(v) for v in items.values())
    elif operation == "TransactGetItems" and isinstance(items, list):
        n = len(items)
    return reads * max(1, n), writes
