"""The meter push against the Stripe stand-in (which deduplicates identifiers as Stripe does),
on the in-process outbox and on DynamoDB Local: every overage unit reaches Stripe exactly
once, across a crash at every step, two pushes at once and a period boundary; what cannot be
sent is reported, never dropped and never billed into another period."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tiergate.billing.stripe_client import StripeGateway, build_stripe
from tiergate.clock import FakeClock
from tiergate.errors import StoreUnavailable
from tiergate.meter.events import MeterDelivery, MeterEvent
from tiergate.meter.outbox import (
    Claim,
    MeterChange,
    MeterKey,
    MeterOutbox,
    MeterRecord,
    Settle,
    Skip,
)
from tiergate.meter.push import MeterPusher, batch_identifier
from tiergate.meter.report import MeterPushReport
from tiergate.observe import EmfWriter, Observation, bind
from tiergate.registry import Account, Registry
from tiergate.telemetry import SERVICE_SCHEDULED
from tiergate.usage import MeteredPeriod

from ..contract.meter_outboxes import CONCURRENT_METER_OUTBOXES, Opened, opened
from ..support.fakestripe import FakeStripe
from .conftest import billing_settings
from .metered import MeteredIndex

NOV, DEC, JAN = 1_793_491_200_000, 1_796_083_200_000, 1_798_761_600_000  # 2026-11-01 ... UTC
MID_NOV = 1_794_744_000_000
MINUTE, HOUR = 60_000, 3_600_000
METER = "api_overage"


class Crash(Exception):
    """The process dies here: the pusher does not catch it, and nothing after it runs."""


@pytest.fixture(params=CONCURRENT_METER_OUTBOXES)
def backend(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Opened]:
    with opened(request, clock) as backend:
        yield backend


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def gateway(stripe_url: str) -> AsyncIterator[StripeGateway]:
    built = build_stripe(billing_settings(stripe_url).billing, sleep=no_sleep)
    assert built is not None
    yield built
    await built.aclose()


@pytest.fixture
def index() -> MeteredIndex:
    return MeteredIndex()


@dataclasses.dataclass
class Meter:
    clock: FakeClock
    index: MeteredIndex
    outbox: MeterOutbox
    registry: Registry  # the accounts, whose Stripe customers the outbox reads
    gateway: StripeGateway
    stripe: FakeStripe

    def pusher(self, **options: Any) -> MeterPusher:
        return MeterPusher(
            index=self.index, outbox=self.outbox, sender=self.gateway, clock=self.clock,
            **options,
        )  # fmt: skip

    async def push(self, **options: Any) -> MeterPushReport:
        return await self.pusher(**options).push()

    async def crashed_push(self) -> None:
        with pytest.RaisesGroup(Crash):
            await self.push()

    async def record(self, account: str = "acme", start: int = NOV) -> MeterRecord:
        return await self.outbox.meter_record(MeterKey(account, start, METER), DEC)


@pytest.fixture
async def meter(
    clock: FakeClock, index: MeteredIndex, backend: Opened, gateway: StripeGateway,
    fake_stripe: FakeStripe,
) -> Meter:  # fmt: skip
    clock.set(MID_NOV)
    for account in ("acme", "globex"):
        customer = f"cus_{account}"
        await backend.registry.put_account(Account(account, tier="pro", customer_id=customer))
    return Meter(clock, index, backend.outbox, backend.registry, gateway, fake_stripe)


def assert_each_identifier_once(stripe: FakeStripe) -> None:
    identifiers = [e["identifier"] for e in stripe.meter_events]
    assert len(identifiers) == len(set(identifiers))


async def test_new_overage_is_sent_and_nothing_twice(meter: Meter) -> None:
    meter.index.count("acme", NOV, DEC, METER, 10)
    first = await meter.push()
    assert first.ok
    assert first.units_sent("acme") == 10
    assert (first.stripe_calls, first.registry_writes) == (1, 2)  # claim, then mark sent
    [event] = meter.stripe.meter_events
    assert event["event_name"] == METER
    assert event["payload"] == {"stripe_customer_id": "cus_acme", "value": "10"}
    assert event["timestamp"] == MID_NOV // 1000
    assert event["identifier"] == batch_identifier(MeterKey("acme", NOV, METER), 1)

    again = await meter.push()
    assert (again.sent, again.stripe_calls, again.registry_writes) == ([], 0, 0)

    meter.index.count("acme", NOV, DEC, METER, 4)
    meter.clock.advance(MINUTE)
    assert (await meter.push()).units_sent() == 4
    assert meter.stripe.metered("cus_acme", METER) == 14
    record = await meter.record()
    assert (record.batched, record.sent, record.seq, record.pending) == (14, 14, 2, None)


async def test_accounts_and_meters_are_sent_apart(meter: Meter) -> None:
    meter.index.count("acme", NOV, DEC, METER, 3)
    meter.index.count("acme", NOV, DEC, "other_meter", 2)
    meter.index.count("globex", NOV, DEC, METER, 7)
    report = await meter.push()
    assert report.ok
    assert meter.stripe.metered("cus_acme", METER) == 3
    assert meter.stripe.metered("cus_acme", "other_meter") == 2
    assert meter.stripe.metered("cus_globex", METER) == 7
    assert_each_identifier_once(meter.stripe)


def crash_sender(meter: Meter, monkeypatch: pytest.MonkeyPatch, *, after: bool) -> None:
    send = meter.gateway.send_meter_event

    async def crashing(event: MeterEvent) -> MeterDelivery:
        if after:
            await send(event)
        raise Crash

    monkeypatch.setattr(meter.gateway, "send_meter_event", crashing)


def crash_write(
    meter: Meter, monkeypatch: pytest.MonkeyPatch, kind: type[MeterChange], *, written: bool
) -> None:
    change = meter.outbox.change_meter

    async def crashing(read: MeterRecord, what: MeterChange) -> tuple[bool, MeterRecord]:
        if isinstance(what, kind):
            if written:  # the write happened; its answer was lost with the process
                await change(read, what)
            raise Crash
        return await change(read, what)

    monkeypatch.setattr(meter.outbox, "change_meter", crashing)


CRASHES: dict[str, Callable[[Meter, pytest.MonkeyPatch], None]] = {
    "during the claim, not written": lambda m, mp: crash_write(m, mp, Claim, written=False),
    "during the claim, written": lambda m, mp: crash_write(m, mp, Claim, written=True),
    "before the send": lambda m, mp: crash_sender(m, mp, after=False),
    "after the send, before the mark": lambda m, mp: crash_sender(m, mp, after=True),
    "during the mark, not written": lambda m, mp: crash_write(m, mp, Settle, written=False),
    "during the mark, written": lambda m, mp: crash_write(m, mp, Settle, written=True),
}


@pytest.mark.parametrize("step", list(CRASHES))
async def test_a_crash_at_any_step_sends_every_unit_once(meter: Meter, step: str) -> None:
    for total in (10, 13):  # a first batch, then one on top of a sent one
        meter.index.count("acme", NOV, DEC, METER, total - meter.stripe.metered())
        with pytest.MonkeyPatch.context() as patch:
            CRASHES[step](meter, patch)
            await meter.crashed_push()
        meter.clock.advance(MINUTE)
        report = await meter.push()  # the next scheduled run
        assert report.ok
        assert meter.stripe.metered("cus_acme", METER) == total
        record = await meter.record()
        assert (record.batched, record.sent, record.pending) == (total, total, None)
    assert_each_identifier_once(meter.stripe)


async def test_a_registry_failure_is_reported_and_the_next_run_resumes(
    meter: Meter, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter.index.count("acme", NOV, DEC, METER, 6)
    change = meter.outbox.change_meter

    async def unavailable(read: MeterRecord, what: MeterChange) -> tuple[bool, MeterRecord]:
        if isinstance(what, Settle):
            raise StoreUnavailable("DynamoDB unreachable")
        return await change(read, what)

    monkeypatch.setattr(meter.outbox, "change_meter", unavailable)
    report = await meter.push()
    assert [(f.units, "registry" in f.reason) for f in report.failed] == [(6, True)]
    monkeypatch.undo()
    again = await meter.push()
    assert [(s.units, s.duplicate) for s in again.sent] == [(6, True)]  # Stripe had it
    assert meter.stripe.metered() == 6


async def test_a_crash_at_the_period_boundary_bills_each_period_its_own(
    meter: Meter, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter.clock.set(DEC - MINUTE)
    meter.index.count("acme", NOV, DEC, METER, 4)
    crash_sender(meter, monkeypatch, after=True)  # sent, never marked
    await meter.crashed_push()
    monkeypatch.undo()
    meter.clock.set(DEC + 5 * MINUTE)
    meter.index.count("acme", NOV, DEC, METER, 1)  # November's last request, counted late
    meter.index.count("acme", DEC, JAN, METER, 2)
    report = await meter.push()
    assert report.ok
    by_period = {
        (e["timestamp"] < DEC // 1000, int(e["payload"]["value"]))
        for e in meter.stripe.meter_events
    }
    assert by_period == {(True, 4), (True, 1), (False, 2)}  # no November unit in December
    assert meter.stripe.metered() == 7
    assert_each_identifier_once(meter.stripe)


async def test_two_pushes_at_once_send_each_unit_once(meter: Meter) -> None:
    for round_ in range(3):
        meter.index.count("acme", NOV, DEC, METER, 5 + round_)
        meter.index.count("globex", NOV, DEC, METER, 2)
        reports = await asyncio.gather(meter.push(), meter.push(), meter.push())
        assert all(r.ok for r in reports)
        meter.clock.advance(MINUTE)
    assert meter.stripe.metered("cus_acme", METER) == 18
    assert meter.stripe.metered("cus_globex", METER) == 6
    assert_each_identifier_once(meter.stripe)
    fresh = sum(1 for r in reports for s in r.sent if not s.duplicate)
    assert fresh == 2  # of the last round's two batches, each accepted once


async def test_an_ended_period_is_sent_into_itself_then_forgotten(meter: Meter) -> None:
    meter.index.count("acme", NOV, DEC, METER, 10)
    await meter.push()
    meter.index.count("acme", NOV, DEC, METER, 2)  # the month's last requests
    meter.clock.set(DEC + 10 * MINUTE)
    meter.index.count("acme", DEC, JAN, METER, 3)  # December's first
    report = await meter.push()
    assert report.ok
    nov = [e for e in meter.stripe.meter_events if e["timestamp"] < DEC // 1000]
    dec = [e for e in meter.stripe.meter_events if e["timestamp"] >= DEC // 1000]
    assert [int(e["payload"]["value"]) for e in nov] == [10, 2]
    assert nov[-1]["timestamp"] == DEC // 1000 - 1  # the period's last second, not now
    assert [(int(e["payload"]["value"]), e["timestamp"]) for e in dec] == [
        (3, (DEC + 10 * MINUTE) // 1000)
    ]
    assert report.forgotten == 1
    assert [(p.period_start_ms, p.units) for p in await meter.index.metered()] == [(DEC, 3)]


async def test_units_too_late_for_their_period_are_missed_loudly(
    meter: Meter, caplog: pytest.LogCaptureFixture
) -> None:
    meter.index.count("acme", NOV, DEC, METER, 10)
    await meter.push()
    meter.index.count("acme", NOV, DEC, METER, 5)  # counted, but no push ran in time
    meter.clock.set(DEC + 2 * HOUR)
    lines: list[str] = []
    observation = Observation("run-1", SERVICE_SCHEDULED)  # as the scheduled run binds one
    with caplog.at_level(logging.ERROR, "tiergate"), bind(observation):
        report = await meter.push()
    EmfWriter("tiergate", write=lines.append).flush(observation)
    assert not report.ok
    [missed] = report.missed
    assert (missed.account_id, missed.units) == ("acme", 5)
    assert "no longer bills it" in missed.reason
    assert meter.stripe.metered() == 10  # not sent into December, nor into November late
    assert (await meter.record()).missed == 5
    assert report.forgotten == 1
    assert any("missed 5 api_overage units of acme" in r.getMessage() for r in caplog.records)
    docs = [json.loads(line) for line in "".join(lines).splitlines()]
    assert [
        (d["service"], d["MeterPush"], d["MeterUnits"]) for d in docs if d["outcome"] == "missed"
    ] == [("scheduled", 1, 5)]
    assert (await meter.push()).ok  # recorded once: not reported again


async def test_missed_units_are_said_even_when_the_process_dies_as_they_are_recorded(
    meter: Meter, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    meter.index.count("acme", NOV, DEC, METER, 5)
    meter.clock.set(DEC + 2 * HOUR)
    crash_write(meter, monkeypatch, Skip, written=True)
    with caplog.at_level(logging.ERROR, "tiergate"):
        await meter.crashed_push()
    assert [r.getMessage()[:40] for r in caplog.records] == [
        "meter: missed 5 api_overage units of acm"
    ]
    monkeypatch.undo()
    assert (await meter.record()).missed == 5
    assert (await meter.push()).missed == []  # recorded: the next run has nothing to say


async def test_a_batch_unconfirmed_when_its_period_closed_is_not_resent(
    meter: Meter, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter.clock.set(DEC - MINUTE)
    meter.index.count("acme", NOV, DEC, METER, 4)
    crash_sender(meter, monkeypatch, after=False)
    await meter.crashed_push()
    monkeypatch.undo()
    meter.clock.set(DEC + 2 * HOUR)
    report = await meter.push()
    assert [(m.units, "not confirmed" in m.reason) for m in report.missed] == [(4, True)]
    assert meter.stripe.meter_requests == 0


async def test_a_batch_older_than_the_identifier_window_is_not_resent(
    meter: Meter, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter.index.count("acme", NOV, DEC, METER, 4)
    crash_sender(meter, monkeypatch, after=True)  # Stripe has it; the mark never came
    await meter.crashed_push()
    monkeypatch.undo()
    meter.clock.advance(23 * HOUR)  # Stripe may forget the identifier any time after 24 h
    meter.index.count("acme", NOV, DEC, METER, 1)
    report = await meter.push()
    assert [(m.units, "24 hours" in m.reason) for m in report.missed] == [(4, True)]
    assert meter.stripe.metered() == 5  # the 4 once, and the new unit
    assert_each_identifier_once(meter.stripe)


async def test_an_account_without_a_customer_waits_with_a_hint(meter: Meter) -> None:
    await meter.registry.put_account(Account("initech", tier="pro"))
    meter.index.count("initech", NOV, DEC, METER, 6)
    report = await meter.push()
    assert report.ok  # said, counted, and waiting: not a failure every run until linked
    assert report.problems()[0].startswith("waiting: 6 api_overage of initech")
    [waiting] = report.waiting
    assert waiting.units == 6
    assert "tiergate accounts link initech --customer cus_..." in waiting.reason
    assert report.registry_writes == 0  # nothing claimed for a customer that is not there
    await meter.registry.put_account(Account("initech", tier="pro", customer_id="cus_ini"))
    assert (await meter.push()).units_sent() == 6


async def test_an_account_missing_from_the_registry_waits_too(meter: Meter) -> None:
    meter.index.count("umbrella", NOV, DEC, METER, 2)
    [waiting] = (await meter.push()).waiting
    assert "not in the registry" in waiting.reason
    assert meter.stripe.meter_requests == 0


async def test_lost_counters_never_send_a_negative(meter: Meter) -> None:
    meter.index.count("acme", NOV, DEC, METER, 10)
    await meter.push()
    meter.index.reset("acme", NOV, METER)  # Redis lost its counters
    meter.index.count("acme", NOV, DEC, METER, 3)
    report = await meter.push()
    assert report.ok  # nothing due: the units were billed already
    assert [b.units for b in report.behind] == [7]
    assert meter.stripe.meter_requests == 1
    meter.index.count("acme", NOV, DEC, METER, 9)
    assert (await meter.push()).units_sent() == 2  # only what is beyond the watermark
    assert meter.stripe.metered() == 12


async def test_a_failed_send_is_reported_and_resent_with_its_identifier(meter: Meter) -> None:
    meter.index.count("acme", NOV, DEC, METER, 8)
    meter.stripe.meter_failures = ["500"] * 4  # the gateway's every attempt
    failed = await meter.push()
    assert not failed.ok
    [failure] = failed.failed
    assert (failure.units, "Stripe" in failure.reason) == (8, True)
    meter.index.count("acme", NOV, DEC, METER, 2)
    meter.clock.advance(MINUTE)
    report = await meter.push()
    assert [(s.units, s.identifier) for s in report.sent] == [
        (8, batch_identifier(MeterKey("acme", NOV, METER), 1)),
        (2, batch_identifier(MeterKey("acme", NOV, METER), 2)),
    ]
    assert meter.stripe.metered() == 10


async def test_a_refusal_is_a_failure(meter: Meter) -> None:
    meter.index.count("acme", NOV, DEC, METER, 8)
    meter.stripe.failures = [400]
    report = await meter.push()
    assert [f.units for f in report.failed] == [8]
    assert meter.stripe.meter_requests == 1  # a refusal is not retried


def test_identifiers_are_deterministic_and_short() -> None:
    key = MeterKey("a" * 300, NOV, "m" * 100)
    assert batch_identifier(key, 7) == batch_identifier(key, 7)
    assert batch_identifier(key, 7) != batch_identifier(key, 8)
    assert batch_identifier(key, 7) != batch_identifier(dataclasses.replace(key, meter="x"), 7)
    assert len(batch_identifier(key, 10**12)) <= 100


def test_the_fake_lists_what_it_counted() -> None:
    index = MeteredIndex()
    index.count("acme", NOV, DEC, METER, 2)
    index.count("acme", NOV, DEC, METER, 3)
    assert asyncio.run(index.metered()) == [MeteredPeriod("acme", NOV, DEC, METER, 5)]
