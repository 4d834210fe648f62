"""The claim/settle ledger: the one primitive behind every "exactly once" a feature needs
over the registry's table (the meter outbox's batches, the alert ledger's leases).

A ledger holds records by key. A record changes only through a `change` that commits if its
rule `holds` over the record as stored at that moment (not as it was read): two runs that
race for one record can never both commit a claim, and the loser gets the record as stored
in the same answer, so it needs no second read. A feature writes its rules once, as Python
(`Rules`, which the in-process backend runs) and as the same conditions in DynamoDB's words
(`DynamoCodec`, which the DynamoDB backend sends); the contract tests run both rule books over
every backend (tests/contract/test_ledgers.py), so the two cannot drift apart.

Backends: `memory.MemoryLedger` (in process: each change runs without awaiting, so it is
atomic on the event loop) and `dynamo.DynamoLedger` (one conditional UpdateItem a change,
ReturnValuesOnConditionCheckFailure=ALL_OLD).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["DynamoCodec", "Ledger", "Rules"]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
C_contra = TypeVar("C_contra", contravariant=True)


class Rules(Protocol[R, C_contra]):
    def holds(self, stored: R | None, change: C_contra) -> bool:
        """Whether `change` may commit over what is stored now (None: no record yet)."""
        ...

    def applied(self, stored: R | None, change: C_contra) -> R:
        """The record after `change` (which `holds`)."""
        ...


class DynamoCodec(Protocol[R_co, C_contra]):
    """The same rules as DynamoDB items and conditional UpdateItems."""

    def update(self, change: C_contra) -> dict[str, Any]:
        """UpdateItem's UpdateExpression, ConditionExpression (the rule's `holds`, absent
        when it always holds), ExpressionAttributeNames and ExpressionAttributeValues."""
        ...

    def record(self, item: dict[str, Any]) -> R_co | None:
        """The record an item holds (None: an item without one)."""
        ...


class Ledger(Protocol[R_co, C_contra]):
    """Raises `StoreUnavailable` when it cannot answer."""

    async def read(self, key: str) -> R_co | None:
        """The record (read consistently), or None when there is none."""
        ...

    async def read_many(self, keys: Sequence[str]) -> Mapping[str, R_co]:
        """The records that exist, by key, in as few reads as the backend can."""
        ...

    async def change(self, key: str, change: C_contra) -> tuple[bool, R_co | None]:
        """Commit `change` if it holds over the stored record: (True, the record now), or
        (False, the record as stored, None if there is none) when it did not."""
        ...
