"""The meter push against the Stripe stand-in: Stripe calls per account per run, accounts per
second, and DynamoDB calls per push (the meter outbox on DynamoDB Local, its own process,
counted at the client). Baseline, in the same run: the same events sent straight to Stripe,
with no outbox (what a push without exactly-once costs)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from typing import Any

from tests.billing.metered import MeteredIndex
from tests.support.dynamodb_local import running_dynamodb_local
from tests.support.fakestripe import FakeStripe, running_fake_stripe

from tiergate.billing.stripe_client import StripeGateway, build_stripe
from tiergate.clock import SystemClock
from tiergate.config import Settings
from tiergate.meter.events import MeterEvent
from tiergate.meter.outbox_dynamo import DynamoMeterOutbox
from tiergate.meter.push import MeterPusher
from tiergate.periods import calendar_month
from tiergate.registry import Account
from tiergate.registry.dynamo import DynamoRegistry, connect
from tiergate.registry.dynamo.table import create_table

from .report import Finding, Outcome, Table

__all__ = ["measure"]

_METER = "api_overage"


class _Calls(Counter[str]):
    def __call__(self, event_name: str, **_: Any) -> None:
        self[event_name.rsplit(".", 1)[-1]] += 1

    def per(self, n: int) -> str:
        return " + ".join(f"{v / n:g} {op}" for op, v in sorted(self.items())) or "0"


async def measure(accounts: int) -> Outcome:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")  # DynamoDB Local accepts any; boto3 wants some
    clock = SystemClock()
    fake = FakeStripe(clock=clock, webhook_secret="whsec_bench")  # noqa: S106 - the fake's own
    with running_dynamodb_local() as endpoint, running_fake_stripe(fake) as stripe_url:
        client = connect("us-east-1", endpoint, 5.0)
        table = f"bench-{uuid.uuid4().hex[:8]}"
        create_table(client, table)
        registry = DynamoRegistry(client, table, clock=clock)
        for i in range(accounts):
            await registry.put_account(Account(f"acct-{i}", tier="pro", customer_id=f"cus_{i}"))
        calls = _Calls()
        client.meta.events.register("before-call.dynamodb.*", calls)
        gateway = _gateway(stripe_url)
        index = MeteredIndex()
        start, end = calendar_month(clock.now_ms())
        outbox = DynamoMeterOutbox(client, table)
        pusher = MeterPusher(index=index, outbox=outbox, sender=gateway, clock=clock)

        runs: dict[str, tuple[float, int, _Calls, int]] = {}
        for label, units in (("new units", 5), ("nothing new", 0), ("new units again", 3)):
            for i in range(accounts):
                index.count(f"acct-{i}", start, end, _METER, units)
            calls.clear()
            before = fake.meter_requests
            began = time.perf_counter()
            report = await pusher.push()
            seconds = time.perf_counter() - began
            if not report.ok:
                raise RuntimeError(f"the push failed: {report.problems()[:3]}")
            runs[label] = (seconds, fake.meter_requests - before, calls.copy(),
                           report.registry_writes)  # fmt: skip

        began = time.perf_counter()
        await _straight(gateway, accounts, clock.now_ms() // 1000)
        baseline_s = time.perf_counter() - began
    return _outcome(accounts, runs, baseline_s)


def _gateway(stripe_url: str) -> StripeGateway:
    settings = Settings(stripe_secret_key="sk_test_bench", stripe_api_base=stripe_url)  # noqa: S106
    built = build_stripe(settings.billing)
    assert built is not None
    return built


async def _straight(gateway: StripeGateway, accounts: int, now_s: int) -> None:
    """The baseline: one event per account, 8 at a time as the push sends, no outbox."""
    limit = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with limit:
            event = MeterEvent(_METER, f"cus_{i}", 5, now_s, f"base_{uuid.uuid4().hex}")
            await gateway.send_meter_event(event)

    await asyncio.gather(*(one(i) for i in range(accounts)))


def _outcome(
    accounts: int, runs: dict[str, tuple[float, int, _Calls, int]], baseline_s: float
) -> Outcome:
    table = Table(f"Meter push, {accounts} accounts with overage (Stripe stand-in, DynamoDB Local)")
    for label, (seconds, stripe_calls, calls, writes) in runs.items():
        nothing_new = label == "nothing new"
        straight = "-" if label != "new units" else f"{accounts / baseline_s:,.0f}"
        table.add(f"{label}: Stripe calls per account", f"{stripe_calls / accounts:g}", "-",
                  "0" if nothing_new else "1")  # fmt: skip
        table.add(f"{label}: DynamoDB calls per account", calls.per(accounts), "0", "-")
        table.add(f"{label}: outbox writes per push", f"{writes:,}", "0",
                  "0" if nothing_new else f"{2 * accounts:,}")  # fmt: skip
        table.add(f"{label}: accounts per second", f"{accounts / seconds:,.0f}", straight, "-")
    table.notes += [
        "baseline: the same events sent straight to Stripe (8 at a time, as the push does),"
        " with no outbox: no exactly-once across crashes, and the cost of having it",
        "a batch costs 2 outbox writes (claim, mark sent: conditional UpdateItems); the outbox"
        " records and the accounts' Stripe customers are read for all periods at once"
        " (BatchGetItem, 100 a call)",
        "the hot store's list of periods is a hand-set fake here (the push's input, not the gate)",
        "times are this machine's (2 shared cores): DynamoDB Local's writes are much slower than"
        " DynamoDB's, so accounts per second mostly measures them; the counts do not depend on it",
    ]
    new = runs["new units"]
    idle = runs["nothing new"]
    return Outcome(
        tables=[table],
        findings=[
            Finding("meter push: Stripe calls per account with new overage",
                    f"{new[1] / accounts:g}", "1", "1", new[1] == accounts),
            Finding("meter push: Stripe calls per account with nothing new",
                    f"{idle[1] / accounts:g}", "-", "0", idle[1] == 0),
            Finding("meter push: DynamoDB writes per account with new overage",
                    f"{new[3] / accounts:g}", "0", "2", new[3] == 2 * accounts),
            Finding("meter push: accounts per second", f"{accounts / new[0]:,.0f}",
                    f"{accounts / baseline_s:,.0f}", "-", None),
        ],
    )  # fmt: skip
