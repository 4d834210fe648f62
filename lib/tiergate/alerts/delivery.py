"""One scheduled run of usage-alert delivery: read the pending crossings, send each on the
channels its account has (email, webhook), and drop from the pending list only what is done.

It runs only from the schedule (a scheduled function, a cron, `tiergate serve`'s background
task), never on a customer's request: the gate records a crossing and is done with it.

- **At least once, deduplicated by id.** A crossing stays pending until every channel it
  needs is settled: delivered, or given up on and reported. Each channel is claimed in the
  ledger before it is sent and settled after, so a channel that arrived is not sent again
  when the other failed, nor by a second run at the same time. A send whose answer was lost
  (or a run that crashed before settling) is sent again by a later run under the same id.
- **Retries**: up to `attempts` per channel in a run, with full-jitter exponential backoff
  (and the receiver's Retry-After), then again on every later run.
- **Never silently dropped**: a channel still failing `give_up_ms` after the crossing (or
  refused for good: 410 Gone, a URL the policy forbids) is logged as an error, counted
  (`AlertDelivery` outcome=dropped, the metric to alarm on) and settled; an account with no
  contacts is logged and dropped (outcome=no-contacts).
- **Bounded**: every attempt is bounded by what is left of `run_budget_s`; what does not fit
  stays pending for the next run, so a slow receiver delays only itself.
- **Fair**: a crossing that failed in a run goes to the back of the pending list, so the
  next run's batch starts with the others: a receiver down for a day holds up only itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from ..clock import Clock
from ..errors import StoreUnavailable
from ..observe import EmfWriter, Observation, bind, count
from ..telemetry import (
    ALERT_DELIVERED,
    ALERT_DELIVERY,
    ALERT_DROPPED,
    ALERT_FAILED,
    ALERT_NO_CONTACTS,
    DIM_OUTCOME,
    SERVICE_SCHEDULED,
)
from ..usage import AlertCrossing
from .attempts import NO_TIME, Attempts
from .channels import Channel, DeliveryFailed
from .contacts_store import NO_CONTACTS, AlertContacts, ContactsStore
from .ledger import DeliveryLedger
from .queue import AlertQueue
from .report import DeliveryReport, Failure
from .senders import ChannelSender

__all__ = ["AlertDelivery", "DeliveryReport", "Failure"]

log = logging.getLogger("tiergate.alerts")

# What became of one channel of one crossing in this run.
Result = Literal["delivered", "settled", "given-up", "failed", "busy"]
_DONE: frozenset[Result] = frozenset({"delivered", "settled", "given-up"})
# What became of one crossing: dropped from the pending list, sent to its back, or left.
Settled = Literal["done", "failed", "busy"]


class AlertDelivery:
    def __init__(
        self,
        *,
        queue: AlertQueue,
        contacts: ContactsStore,
        senders: Sequence[ChannelSender],
        ledger: DeliveryLedger,
        clock: Clock,
        run_budget_s: float = 40.0,
        attempt_timeout_s: float = 10.0,
        give_up_ms: int = 24 * 3_600_000,
        attempts: int = 3,
        batch: int = 200,
        concurrency: int = 8,
        emf: EmfWriter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """`senders`: the channel table (senders.channel_table). `sleep` and `jitter`: the
        backoff's, injected so tests need not wait. `emf`: where the run's metrics go, flushed
        at its end; None counts them into the observation the caller bound (the scheduled
        runner's, which flushes it), if any."""
        self._queue = queue
        self._contacts = contacts
        self._ledger = ledger
        self._clock = clock
        self._senders = tuple(senders)
        self._attempts = Attempts(
            senders=self._senders,
            clock=clock,
            timeout_s=attempt_timeout_s,
            attempts=attempts,
            sleep=sleep,
            jitter=jitter,
        )
        self._budget_ms = int(run_budget_s * 1000)
        self._give_up_ms = give_up_ms
        self._batch = batch
        self._concurrency = concurrency
        self._emf = emf

    async def deliver(self) -> DeliveryReport:
        """One run. Raises StoreUnavailable when the pending list cannot be read or written."""
        if self._emf is None:
            return await self._run()
        observation = Observation(f"alerts-{uuid.uuid4().hex[:16]}", SERVICE_SCHEDULED)
        with bind(observation):
            try:
                return await self._run()
            finally:
                if self._emf is not None:
                    self._emf.flush(observation)

    async def _run(self) -> DeliveryReport:
        report = DeliveryReport(sent={s.channel: 0 for s in self._senders})
        crossings = await self._queue.alerts(self._batch)
        report.pending = len(crossings)
        if not crossings:
            return report
        deadline_ms = self._clock.now_ms() + self._budget_ms
        gate = asyncio.Semaphore(self._concurrency)
        contacts = await self._read_contacts({c.account_id for c in crossings})

        async def one(crossing: AlertCrossing) -> Settled:
            async with gate:
                return await self._crossing(crossing, contacts, deadline_ms, report)

        settled = await asyncio.gather(*(one(c) for c in crossings))
        done = [c for c, s in zip(crossings, settled, strict=True) if s == "done"]
        failed = [c for c, s in zip(crossings, settled, strict=True) if s == "failed"]
        if done:
            # If this fails the ledger still says settled: the next run drops them unsent.
            await self._queue.alerts_delivered(done)
        if failed:
            # Behind the rest: one dead receiver's backlog must not fill every run's batch.
            await self._queue.alerts_requeue(failed)
        return report

    async def _read_contacts(
        self, account_ids: set[str]
    ) -> dict[str, AlertContacts] | StoreUnavailable:
        """Every account's contacts in one read, or why they could not be read (then every
        crossing of the run is retried next run)."""
        try:
            return await self._contacts.get_many(account_ids)
        except StoreUnavailable as exc:
            return exc

    async def _crossing(
        self,
        crossing: AlertCrossing,
        found: dict[str, AlertContacts] | StoreUnavailable,
        deadline_ms: int,
        report: DeliveryReport,
    ) -> Settled:
        """Deliver one crossing on its channels: "done" when it may leave the pending list,
        "failed" when it is retried next run, "busy" when another run holds it."""
        if isinstance(found, StoreUnavailable):
            report.retrying += 1
            report.failures.append(
                Failure(crossing.id, crossing.account_id, None, str(found), given_up=False)
            )
            count(ALERT_DELIVERY, DIM_OUTCOME, ALERT_FAILED)
            log.warning(
                "usage alert not delivered: the alert contacts could not be read; retried next run",
                extra=_fields(crossing, error=str(found)),
            )
            return "failed"
        contacts = found.get(crossing.account_id, NO_CONTACTS)
        channels = [s.channel for s in self._senders if s.wanted(contacts)]
        if not channels:
            report.no_contacts += 1
            count(ALERT_DELIVERY, DIM_OUTCOME, ALERT_NO_CONTACTS)
            log.warning(
                "usage alert dropped: the account has no alert email or URL"
                " (`tiergate accounts set-alerts` sets them)",
                extra=_fields(crossing),
            )
            return "done"
        results = await asyncio.gather(
            *(self._channel(crossing, contacts, ch, deadline_ms, report) for ch in channels)
        )
        if not all(r in _DONE for r in results):
            report.retrying += 1
            if "failed" in results:  # not when another run holds it ("busy")
                count(ALERT_DELIVERY, DIM_OUTCOME, ALERT_FAILED)
                return "failed"
            return "busy"
        if "given-up" in results:
            report.given_up += 1
            count(ALERT_DELIVERY, DIM_OUTCOME, ALERT_DROPPED)
        else:
            report.delivered += 1
            count(ALERT_DELIVERY, DIM_OUTCOME, ALERT_DELIVERED)
        return "done"

    async def _channel(
        self,
        crossing: AlertCrossing,
        contacts: AlertContacts,
        channel: Channel,
        deadline_ms: int,
        report: DeliveryReport,
    ) -> Result:
        now = self._clock.now_ms()
        until = deadline_ms + 60_000  # past the run's end: a crashed run's lease runs out
        try:
            claim = await self._ledger.claim(crossing.id, channel, now_ms=now, until_ms=until)
        except StoreUnavailable as exc:
            return self._failed(crossing, channel, str(exc), report)
        if claim != "claimed":
            return claim
        try:
            failure = await self._attempts.deliver(crossing, contacts, channel, deadline_ms)
            now = self._clock.now_ms()
            if failure is None:
                report.sent[channel] += 1
                await self._ledger.settle(crossing.id, channel, now_ms=now)
                return "delivered"
            # Given up only after a real attempt: a run whose budget ran out first says
            # nothing about the receiver (a backlog after an outage must still be tried).
            tried = failure is not NO_TIME
            if failure.permanent or (tried and now - crossing.at_ms >= self._give_up_ms):
                await self._ledger.settle(crossing.id, channel, now_ms=now)
                return self._given_up(crossing, channel, failure, report)
            await self._ledger.release(crossing.id, channel, until_ms=until)
        except StoreUnavailable as exc:  # the ledger: the crossing stays pending
            return self._failed(crossing, channel, f"delivery ledger: {exc}", report)
        return self._failed(crossing, channel, failure.reason, report, ours=failure.ours)

    def _failed(
        self,
        crossing: AlertCrossing,
        channel: Channel,
        reason: str,
        report: DeliveryReport,
        *,
        ours: bool = True,
    ) -> Result:
        failure = Failure(crossing.id, crossing.account_id, channel, reason, False, ours)
        report.failures.append(failure)
        log.warning(
            "usage alert not delivered; retried next run",
            extra=_fields(crossing, channel=channel, error=reason),
        )
        return "failed"

    def _given_up(
        self,
        crossing: AlertCrossing,
        channel: Channel,
        failed: DeliveryFailed,
        report: DeliveryReport,
    ) -> Result:
        reason = failed.reason
        report.failures.append(
            Failure(crossing.id, crossing.account_id, channel, reason, True, failed.ours)
        )
        log.error(
            "usage alert given up: not delivered and dropped",
            extra=_fields(crossing, channel=channel, error=reason),
        )
        return "given-up"


def _fields(crossing: AlertCrossing, **more: str) -> dict[str, str | int]:
    return {
        "alert_id": crossing.id,
        "account_id": crossing.account_id,
        "threshold": crossing.label,
        "period_start_ms": crossing.period_start_ms,
        **more,
    }
