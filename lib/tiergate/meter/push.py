"""The meter push: every account's new overage units to Stripe's meter, exactly once.

For each period the meter index lists (`index.metered()`, meter/index.py: what the gate
counted), through the meter outbox (meter/outbox.py):

1. a pending batch (claimed by an earlier push that crashed, failed or is still running) is
   resent first, with its own identifier; Stripe's "already exists" answer counts as sent;
2. the new units (counted minus the watermark) are claimed as a batch with a conditional
   write, sent under the batch's deterministic identifier, and the batch marked sent;
3. an ended period that has nothing left to send is forgotten by the index.

So a crash anywhere leaves either unclaimed units (claimed by the next run) or a pending
batch (resent under the same identifier, which Stripe deduplicates): never a unit sent twice,
never one dropped. Two pushes at once cannot claim the same units: one claim's condition fails
and that push resends the winner's batch instead, which Stripe deduplicates.

Every event's timestamp lies inside the period its units were counted in. An ended period is
still sent into while Stripe still bills it: the invoice is finalized an hour after the period
by default ("finalization grace period"), so the push keeps sending for `late_window_ms` (50
minutes by default, `TIERGATE_METER_LATE_WINDOW`), leaving a margin for Stripe's asynchronous
processing. Units that miss it are recorded as missed, logged and counted (metric MeterUnits,
outcome missed), never sent into another period. A pending batch older than Stripe's
identifier window (24 hours) is not resent either: Stripe may have forgotten the identifier
and would count it twice, so it is missed too, reported as unconfirmed.
"""

from __future__ import annotations

import asyncio

from ..clock import Clock
from ..usage import MeteredPeriod
from .events import MeterEventSender
from .index import MeterIndex
from .outbox import MeterKey, MeterOutbox, MeterRecord
from .period import PeriodPush, batch_identifier, event_timestamp_s
from .report import MeterPushReport

__all__ = ["DEFAULT_LATE_WINDOW_MS", "MeterPusher", "batch_identifier", "event_timestamp_s"]

DEFAULT_LATE_WINDOW_MS = 50 * 60_000


class MeterPusher:
    def __init__(
        self,
        *,
        index: MeterIndex,
        outbox: MeterOutbox,
        sender: MeterEventSender,
        clock: Clock,
        late_window_ms: int = DEFAULT_LATE_WINDOW_MS,
        concurrency: int = 8,
    ) -> None:
        self._index = index
        self._outbox = outbox
        self._sender = sender
        self._clock = clock
        self._late_window_ms = late_window_ms
        self._concurrency = concurrency

    async def push(self) -> MeterPushReport:
        """Push every listed period; raises `StoreUnavailable` only when the list, or the
        outbox's reads of all the periods' records and customers, fail (a period's own
        failures are in the report).

        Its metrics (MeterPush, MeterUnits) are counted into the current observation: the
        scheduled run's (`scheduled.JobRunner` flushes them); the CLI has none, and prints.
        """
        report = MeterPushReport()
        periods = await self._index.metered()
        report.periods = len(periods)
        # Every record and customer in a few batched reads; each period then needs only its
        # writes. A record read here may be moved on by a concurrent push before this one
        # writes: the writes' conditions catch that.
        records = await self._outbox.meter_records(
            [(MeterKey(p.account_id, p.period_start_ms, p.meter), p.period_end_ms) for p in periods]
        )
        customers = await self._outbox.customer_ids([p.account_id for p in periods])
        run = PeriodPush(
            index=self._index,
            outbox=self._outbox,
            sender=self._sender,
            late_window_ms=self._late_window_ms,
            report=report,
            now_ms=self._clock.now_ms(),
        )
        limit = asyncio.Semaphore(self._concurrency)

        async def one(period: MeteredPeriod, record: MeterRecord) -> None:
            async with limit:
                await run.period(period, record, customers.get(period.account_id))

        async with asyncio.TaskGroup() as tasks:
            for period, record in zip(periods, records, strict=True):
                tasks.create_task(one(period, record))
        return report
