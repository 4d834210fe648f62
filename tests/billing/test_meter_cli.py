"""`tiergate meter push`: what it needs, what it prints, and its exit status, against DynamoDB
Local and the Stripe stand-in (the overage counts come from a hand-set meter index; the gate's
own counting is tests/billing/test_meter_end_to_end.py's, the push's tests/billing/
test_meter_push.py's)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

import tiergate.wiring
from tiergate.cli import main
from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.periods import calendar_month
from tiergate.registry import Account
from tiergate_tools.localredis.background import UpstashEndpoint

from ..support.fakestripe import FakeStripe
from .metered import MeteredIndex


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch,
    dynamodb_endpoint: str,
    dynamodb_table: str,
    upstash: UpstashEndpoint,
    stripe_url: str,
    clock: FakeClock,
) -> dict[str, str]:
    clock.set(time.time_ns() // 1_000_000)  # the command runs on the system clock
    # As in a fresh process: an app built by an earlier test gave the logger a JSON handler.
    logger = logging.getLogger("tiergate")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", True)
    values = {
        "TIERGATE_TABLE": dynamodb_table,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "TIERGATE_DYNAMODB_TIMEOUT": "10",
        "UPSTASH_REDIS_REST_URL": upstash.url,
        "UPSTASH_REDIS_REST_TOKEN": upstash.token,
        "STRIPE_SECRET_KEY": "sk_test_tiergate",
        "TIERGATE_STRIPE_API_BASE": stripe_url,
        "TIERGATE_STRIPE_RETRY_BUDGET": "2",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def overage(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> MeteredIndex:
    """The meter index the command builds, with 5 overage units of acme this month."""
    index = MeteredIndex()
    start, end = calendar_month(clock.now_ms())
    index.count("acme", start, end, "api_overage", 5)
    build = tiergate.wiring.build

    def with_index(settings: Settings, **kwargs: Any) -> tiergate.wiring.Parts:
        return build(settings, meter_index=index, **kwargs)

    monkeypatch.setattr(tiergate.wiring, "build", with_index)

    async def link() -> None:
        parts = build(Settings())
        try:
            await parts.registry.put_account(Account("acme", tier="pro", customer_id="cus_acme"))
        finally:
            await parts.aclose()

    asyncio.run(link())
    return index


def run(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    code = main(["meter", "push"])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


@pytest.mark.parametrize(
    ("missing", "said"),
    [
        ("TIERGATE_TABLE", "TIERGATE_TABLE"),
        ("UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_URL"),
        ("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY"),
    ],
)
def test_it_refuses_without_what_it_needs(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_stripe: FakeStripe,
    missing: str,
    said: str,
) -> None:
    monkeypatch.delenv(missing)
    if missing == "UPSTASH_REDIS_REST_URL":
        monkeypatch.delenv("UPSTASH_REDIS_REST_TOKEN")
    code, out, err = run(capsys)
    assert (code, out, len(err)) == (2, [], 1)
    assert err[0].startswith("tiergate: error: `tiergate meter push`")
    assert said in err[0]
    assert fake_stripe.meter_requests == 0


def test_it_prints_what_it_sent(
    env: dict[str, str],
    overage: MeteredIndex,
    capsys: pytest.CaptureFixture[str],
    fake_stripe: FakeStripe,
) -> None:
    code, out, err = run(capsys)
    assert (code, err) == (0, [])
    assert out[0].startswith("sent 5 api_overage to cus_acme for acme (period from ")
    assert out[-1].startswith("meter push: 5 units in 1 events for 1 accounts")
    assert fake_stripe.metered("cus_acme") == 5
    assert run(capsys)[:2] == (0, ["meter push: 0 units in 0 events for 0 accounts; 1 periods"
                                   " looked at, 0 finished"])  # fmt: skip


def test_it_exits_1_and_says_what_failed(
    env: dict[str, str],
    overage: MeteredIndex,
    capsys: pytest.CaptureFixture[str],
    fake_stripe: FakeStripe,
) -> None:
    fake_stripe.meter_failures = ["500"] * 10
    code, out, err = run(capsys)
    assert code == 1
    assert out[-1].startswith("meter push: 0 units")
    [line] = err
    assert line.startswith("tiergate: meter: failed: 5 api_overage of acme (period from ")
    assert "Stripe" in line
    fake_stripe.meter_failures = []
    assert run(capsys)[0] == 0
    assert fake_stripe.metered("cus_acme") == 5
