"""The meter room's outbox: what has left for Stripe's meter, per account, period and meter.

One record per (account, period start, meter) holds the units already put in a batch (the
watermark), at most one pending batch (claimed, maybe sent, not yet marked sent), and the
units sent and missed so far. The meter push (meter/push.py) moves it on with three
conditional changes, whose rules are written once here and which each backend checks at
commit, as DynamoDB checks a condition:

- `Claim` a batch of new units: only if the watermark is still the one read and no batch
  is pending, so two pushes running at once can never both claim the same units;
- `Skip` units that can no longer be billed into their period (recorded as missed), on the
  same condition;
- `Settle` the pending batch (sent, or given up on as missed): only if it is still the batch
  of that sequence number, so a late second push cannot settle a newer batch.

A crash between any two steps leaves a state the next push resumes from: a pending batch is
resent with its own identifier (Stripe deduplicates it), never claimed again.

The records live in a claim/settle ledger (tiergate/ledger/): `OUTBOX_RULES` are these rules
as the in-process ledger runs them, `outbox_dynamo` the same as DynamoDB conditions, and
`LedgerOutbox` the outbox's reads and changes over either. One file per backend, each a
`LedgerOutbox` that also reads the accounts' Stripe customers (the push reads them with the
records, in as few reads): `outbox_memory.py` (in process, the customers from the registry)
and `outbox_dynamo.py` (items in the registry's table, beside the accounts' own).
`tests/contract/meter_outboxes.py` is their table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..ledger import Ledger

__all__ = [
    "OUTBOX_RULES",
    "Batch",
    "Claim",
    "Decided",
    "LedgerOutbox",
    "MeterChange",
    "MeterKey",
    "MeterOutbox",
    "MeterRecord",
    "Settle",
    "Skip",
    "applied",
    "holds",
    "meter_pk",
]


@dataclass(frozen=True, slots=True)
class MeterKey:
    account_id: str
    period_start_ms: int
    meter: str


@dataclass(frozen=True, slots=True)
class Batch:
    """Units claimed for one meter event, under the event's identifier."""

    seq: int  # 1, 2, ... per record
    units: int
    identifier: str
    claimed_at_ms: int


@dataclass(frozen=True, slots=True)
class MeterRecord:
    key: MeterKey
    period_end_ms: int
    batched: int = 0  # the watermark: units put in a batch so far (sent, pending or missed)
    sent: int = 0
    missed: int = 0
    seq: int = 0  # the last batch's sequence number
    pending: Batch | None = None
    stored: bool = False  # False: no record yet (a first claim must find none)


@dataclass(frozen=True, slots=True)
class Claim:
    batch: Batch


@dataclass(frozen=True, slots=True)
class Skip:
    units: int


@dataclass(frozen=True, slots=True)
class Settle:
    seq: int
    sent: bool  # False: given up on, its units missed


MeterChange = Claim | Skip | Settle


def holds(stored: MeterRecord, read: MeterRecord, change: MeterChange) -> bool:
    """Whether `change`, decided on `read`, may commit over what is `stored` now."""
    if isinstance(change, Settle):
        return stored.pending is not None and stored.pending.seq == change.seq
    if not read.stored:
        return not stored.stored
    return stored.stored and stored.batched == read.batched and stored.pending is None


def applied(record: MeterRecord, change: MeterChange) -> MeterRecord:
    """The record after `change` (which `holds`)."""
    if isinstance(change, Claim):
        batch = change.batch
        return dataclasses.replace(
            record, batched=record.batched + batch.units, seq=batch.seq, pending=batch, stored=True
        )
    if isinstance(change, Skip):
        return dataclasses.replace(
            record,
            batched=record.batched + change.units,
            missed=record.missed + change.units,
            stored=True,
        )
    units = record.pending.units if record.pending else 0
    if change.sent:
        return dataclasses.replace(record, sent=record.sent + units, pending=None)
    return dataclasses.replace(record, missed=record.missed + units, pending=None)


def meter_pk(key: MeterKey) -> str:
    """The record's key in the ledger. The account comes last: meters and period starts hold
    no '#', account ids may."""
    return f"MTR#{key.meter}#{key.period_start_ms}#{key.account_id}"


@dataclass(frozen=True, slots=True)
class Decided:
    """A change and the record it was decided on (its condition compares the two)."""

    read: MeterRecord
    change: MeterChange

    def empty(self) -> MeterRecord:
        return MeterRecord(self.read.key, self.read.period_end_ms)


class _OutboxRules:
    def holds(self, stored: MeterRecord | None, change: Decided) -> bool:
        return holds(stored or change.empty(), change.read, change.change)

    def applied(self, stored: MeterRecord | None, change: Decided) -> MeterRecord:
        return applied(stored or change.empty(), change.change)


OUTBOX_RULES = _OutboxRules()


class LedgerOutbox:
    """The outbox's records over a claim/settle ledger (in process or DynamoDB)."""

    def __init__(self, ledger: Ledger[MeterRecord, Decided]) -> None:
        self._ledger = ledger

    async def meter_record(self, key: MeterKey, period_end_ms: int) -> MeterRecord:
        return await self._ledger.read(meter_pk(key)) or MeterRecord(key, period_end_ms)

    async def meter_records(self, wanted: Sequence[tuple[MeterKey, int]]) -> list[MeterRecord]:
        found = await self._ledger.read_many([meter_pk(key) for key, _ in wanted])
        return [found.get(meter_pk(key)) or MeterRecord(key, end) for key, end in wanted]

    async def change_meter(
        self, read: MeterRecord, change: MeterChange
    ) -> tuple[bool, MeterRecord]:
        decided = Decided(read, change)
        done, record = await self._ledger.change(meter_pk(read.key), decided)
        return done, record or decided.empty()


class MeterOutbox(Protocol):
    """Raises `StoreUnavailable` when it cannot answer."""

    async def meter_record(self, key: MeterKey, period_end_ms: int) -> MeterRecord:
        """The record (read consistently), or an empty one (`stored` False) if none yet."""
        ...

    async def meter_records(self, wanted: Sequence[tuple[MeterKey, int]]) -> list[MeterRecord]:
        """`meter_record` of each (key, period end), in order, in as few reads as the
        backend can (DynamoDB: one BatchGetItem per 100)."""
        ...

    async def customer_ids(self, account_ids: Sequence[str]) -> dict[str, str]:
        """Each existing account's Stripe customer ("" when none is linked), in few reads."""
        ...

    async def change_meter(
        self, read: MeterRecord, change: MeterChange
    ) -> tuple[bool, MeterRecord]:
        """Commit `change` if it `holds` over the stored record, in one conditional write:
        (True, the record now), or (False, the record as stored) when it did not hold."""
        ...
