"""One meter push, period by period: resend the pending batch, claim and send the new units,
forget an ended period that is done. meter/push.py says why each step is safe."""

from __future__ import annotations

import hashlib
import logging

from ..errors import StoreUnavailable, StripeRejected, StripeUnavailable
from ..observe.metrics import count
from ..telemetry import (
    DIM_OUTCOME,
    METER_BEHIND,
    METER_FAILED,
    METER_MISSED,
    METER_PUSH,
    METER_SENT,
    METER_UNITS,
    METER_WAITING,
)
from ..usage import MeteredPeriod
from .events import IDENTIFIER_WINDOW_MS, MeterEvent, MeterEventSender
from .index import MeterIndex
from .outbox import Batch, Claim, MeterChange, MeterKey, MeterOutbox, MeterRecord, Settle, Skip
from .report import MeterPushReport, Sent, Unsent

__all__ = ["RESEND_WITHIN_MS", "PeriodPush", "batch_identifier", "event_timestamp_s"]

log = logging.getLogger("tiergate")

# A pending batch is resent only this long after its claim: an hour inside Stripe's window.
RESEND_WITHIN_MS = IDENTIFIER_WINDOW_MS - 3_600_000
# An ended period is forgotten only this long after its end, so a request the gate (on
# Redis's clock) still counted into it is not left behind by a push on a clock ahead of it.
_SETTLE_MS = 60_000
_ROUNDS = 3  # claims lost to a concurrent push before this one leaves the period to it


def _waiting(account_id: str, customer: str | None) -> str:
    link = f"tiergate accounts link {account_id} --customer cus_..."
    if customer is None:
        return f"the account is not in the registry; once it is, link its Stripe customer: {link}"
    return f"no Stripe customer is linked to the account: {link}"


def batch_identifier(key: MeterKey, seq: int) -> str:
    """The meter event identifier of a batch: the same for every attempt, at most 100 chars."""
    text = f"{key.account_id}\n{key.period_start_ms}\n{key.meter}\n{seq}"
    return f"tg_{seq}_{hashlib.sha256(text.encode()).hexdigest()[:40]}"


def event_timestamp_s(period: MeteredPeriod, at_ms: int) -> int:
    """`at_ms` in whole seconds, moved inside the period (the last second of an ended one)."""
    first = -(-period.period_start_ms // 1000)
    last = (period.period_end_ms - 1) // 1000
    return max(first, min(at_ms // 1000, last))


class PeriodPush:
    """One push's work on each period, at one instant, into one report (meter/push.py says
    what it does and why)."""

    def __init__(
        self,
        *,
        index: MeterIndex,
        outbox: MeterOutbox,
        sender: MeterEventSender,
        late_window_ms: int,
        report: MeterPushReport,
        now_ms: int,
    ) -> None:
        self._index = index
        self._outbox = outbox
        self._sender = sender
        self._late_window_ms = late_window_ms
        self.report = report
        self.now = now_ms

    async def period(
        self, period: MeteredPeriod, record: MeterRecord, customer: str | None
    ) -> None:
        """Push one period from its outbox record as read; customer "": none linked, None:
        the account is not in the registry."""
        try:
            for _ in range(_ROUNDS):
                if record.pending is not None:
                    record = await self._pending(period, record, customer)
                    if record.pending is not None:
                        return  # failed or waiting: the newer units wait behind it
                record, lost_race = await self._new_units(period, record, customer)
                if not lost_race:
                    break
            await self._forget_if_done(period, record)
        except StoreUnavailable as exc:
            # Whatever the last write did, the outbox holds it: the next run resumes there.
            unconfirmed = max(0, period.units - record.sent - record.missed)
            reason = f"the registry or the hot store failed ({exc}); the next run resumes"
            self._unsent(self.report.failed, period, unconfirmed, reason, outcome=METER_FAILED)

    async def _pending(
        self, period: MeteredPeriod, record: MeterRecord, customer: str | None
    ) -> MeterRecord:
        batch = record.pending
        assert batch is not None
        if not self._open(period):
            reason = (
                f"batch {batch.identifier} was not confirmed before Stripe closed the period"
                " (it may have reached Stripe: check the customer's meter)"
            )
            return await self._give_up(period, record, batch, reason)
        if self.now - batch.claimed_at_ms >= RESEND_WITHIN_MS:
            reason = (
                f"batch {batch.identifier} was claimed too long ago to resend: Stripe keeps"
                " identifiers for 24 hours, so a resend could count it twice (it may have"
                " reached Stripe: check the customer's meter)"
            )
            return await self._give_up(period, record, batch, reason)
        if not customer:
            reason = _waiting(period.account_id, customer)
            self._unsent(self.report.waiting, period, batch.units, reason, outcome=METER_WAITING)
            return record
        return await self._send(period, record, batch, customer)

    async def _new_units(
        self, period: MeteredPeriod, record: MeterRecord, customer: str | None
    ) -> tuple[MeterRecord, bool]:
        new = period.units - record.batched
        if new < 0:
            reason = (
                f"the hot store counts {period.units:,} units but {record.batched:,} were sent"
                " already (Redis lost counters, or refunds came after the send): nothing sent"
            )
            self._unsent(self.report.behind, period, -new, reason, outcome=METER_BEHIND)
            return record, False
        if new == 0:
            return record, False
        if not self._open(period):
            reason = "the period ended and Stripe no longer bills it; never sent"
            done, record = await self._miss(period, record, Skip(new), new, reason)
            return record, not done
        if not customer:
            reason = _waiting(period.account_id, customer)
            self._unsent(self.report.waiting, period, new, reason, outcome=METER_WAITING)
            return record, False
        seq = record.seq + 1
        batch = Batch(seq, new, batch_identifier(record.key, seq), self.now)
        done, record = await self._change(record, Claim(batch))
        if not done:
            return record, True  # another push claimed first: resend its batch, then look again
        return await self._send(period, record, batch, customer), False

    async def _send(
        self, period: MeteredPeriod, record: MeterRecord, batch: Batch, customer: str
    ) -> MeterRecord:
        event = MeterEvent(
            period.meter,
            customer,
            batch.units,
            event_timestamp_s(period, batch.claimed_at_ms),
            batch.identifier,
        )
        self.report.stripe_calls += 1
        try:
            delivery = await self._sender.send_meter_event(event)
        except (StripeUnavailable, StripeRejected) as exc:
            reason = f"Stripe: {exc}; resent under {batch.identifier} on the next run"
            self._unsent(self.report.failed, period, batch.units, reason, outcome=METER_FAILED)
            return record
        _, record = await self._change(record, Settle(batch.seq, sent=True))
        duplicate = delivery == "duplicate"
        sent = Sent(
            period.account_id, period.meter, period.period_start_ms, customer,
            batch.units, batch.identifier, duplicate,
        )  # fmt: skip
        self.report.sent.append(sent)
        count(METER_PUSH, DIM_OUTCOME, METER_SENT)  # an "already exists" answer included
        count(METER_UNITS, DIM_OUTCOME, METER_SENT, batch.units)
        log.info(
            "meter: sent %d %s units of %s to %s as %s%s",
            batch.units, period.meter, period.account_id, customer, batch.identifier,
            " (Stripe had it already)" if duplicate else "",
        )  # fmt: skip
        return record

    async def _give_up(
        self, period: MeteredPeriod, record: MeterRecord, batch: Batch, reason: str
    ) -> MeterRecord:
        _, record = await self._miss(period, record, Settle(batch.seq, sent=False), batch.units,
                                     reason)  # fmt: skip
        return record

    async def _miss(
        self, period: MeteredPeriod, record: MeterRecord, change: MeterChange, units: int,
        reason: str,
    ) -> tuple[bool, MeterRecord]:  # fmt: skip
        """Record `units` as missed, said in the log before the write: once written the units
        are never looked at again, so a crash right after it must not leave them unsaid (a
        crash before it says them again on the next run, which decides again)."""
        self._log(METER_MISSED, period, units, reason)
        done, record = await self._change(record, change)
        if done:
            self._unsent(self.report.missed, period, units, reason, outcome=METER_MISSED,
                         logged=True)  # fmt: skip
        return done, record

    async def _forget_if_done(self, period: MeteredPeriod, record: MeterRecord) -> None:
        if self.now < period.period_end_ms + _SETTLE_MS or record.pending is not None:
            return
        if period.units > record.batched and self._open(period):
            return  # units still to send (waiting for a customer, or failed)
        await self._index.forget_metered(period)
        self.report.forgotten += 1

    async def _change(self, record: MeterRecord, change: MeterChange) -> tuple[bool, MeterRecord]:
        self.report.registry_writes += 1
        return await self._outbox.change_meter(record, change)

    def _open(self, period: MeteredPeriod) -> bool:
        """Whether Stripe still bills usage into the period."""
        return self.now < period.period_end_ms + self._late_window_ms

    def _unsent(
        self,
        into: list[Unsent],
        period: MeteredPeriod,
        units: int,
        reason: str,
        *,
        outcome: str,
        logged: bool = False,
    ) -> None:
        into.append(Unsent(period.account_id, period.meter, period.period_start_ms, units, reason))
        count(METER_PUSH, DIM_OUTCOME, outcome)
        if outcome in (METER_MISSED, METER_WAITING):
            count(METER_UNITS, DIM_OUTCOME, outcome, units)
        if not logged:
            self._log(outcome, period, units, reason)

    def _log(self, outcome: str, period: MeteredPeriod, units: int, reason: str) -> None:
        level = logging.ERROR if outcome == METER_MISSED else logging.WARNING
        log.log(
            level, "meter: %s %d %s units of %s (period from %d): %s",
            outcome, units, period.meter, period.account_id, period.period_start_ms, reason,
        )  # fmt: skip
