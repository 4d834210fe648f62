"""The Stripe gateway's retry policy, over HTTP against the stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tiergate.billing.stripe_client import StripeGateway, build_stripe
from tiergate.clock import FakeClock
from tiergate.errors import StripeRejected, StripeUnavailable

from ..support.fakestripe import FakeStripe
from .conftest import billing_settings

_ROOT = Path(__file__).resolve().parents[2]
_PATH = os.pathsep.join([str(_ROOT / "lib"), str(_ROOT)])


def gateway(stripe_url: str, **settings: object) -> StripeGateway:
    built = build_stripe(billing_settings(stripe_url, **settings).billing)
    assert built is not None
    return built


async def checkout(gw: StripeGateway, price: str = "price_pro") -> str:
    return await gw.checkout_url(
        account_id="acme", customer_id="", price=price, success_url="s", cancel_url="c"
    )


async def test_retries_reuse_one_idempotency_key(fake_stripe: FakeStripe, stripe_url: str) -> None:
    fake_stripe.failures = [503, 429]
    assert (await checkout(gateway(stripe_url))).startswith("https://checkout.stripe.test/")
    keys = fake_stripe.idempotency_keys
    assert len(keys) == 3
    assert len(set(keys)) == 1
    assert keys[0].startswith("tiergate-")


async def test_a_refusal_is_not_retried(fake_stripe: FakeStripe, stripe_url: str) -> None:
    with pytest.raises(StripeRejected, match="No such price"):
        await checkout(gateway(stripe_url), price="plan_old")
    assert len(fake_stripe.requests) == 1


async def test_the_total_time_is_capped(fake_stripe: FakeStripe, stripe_url: str) -> None:
    fake_stripe.hang_s = 5.0  # longer than the whole budget
    started = time.monotonic()
    with pytest.raises(StripeUnavailable, match=r"within 1\.5 s"):
        await checkout(gateway(stripe_url, stripe_retry_budget=1.5, stripe_timeout=10.0))
    assert time.monotonic() - started < 2.5


async def test_a_slow_answer_times_out_and_is_retried(
    fake_stripe: FakeStripe, stripe_url: str
) -> None:
    fake_stripe.hang_s = 0.6
    with pytest.raises(StripeUnavailable, match="APIConnectionError"):
        await checkout(gateway(stripe_url, stripe_timeout=0.2, stripe_retry_budget=3.0))
    assert len(fake_stripe.idempotency_keys) >= 2  # each attempt reached the stand-in


async def test_a_subscription_reads_back_as_a_plain_mapping(
    fake_stripe: FakeStripe, stripe_url: str
) -> None:
    fake_stripe.subscriptions["sub_9"] = {"id": "sub_9", "object": "subscription", "status": "x"}
    found = await gateway(stripe_url).subscription("sub_9")
    assert dict(found) == {"id": "sub_9", "object": "subscription", "status": "x"}
    with pytest.raises(StripeRejected, match="No such subscription"):
        await gateway(stripe_url).subscription("sub_missing")


class Waits:
    """The gateway's sleep and clock: a sleep is recorded and moves the clock, no real wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.now_s = 100.0

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.now_s += delay

    def monotonic(self) -> float:
        return self.now_s


def waiting_gateway(stripe_url: str, waits: Waits, jitter: float, budget_s: float) -> StripeGateway:
    import stripe

    def connect() -> stripe.StripeClient:
        return stripe.StripeClient(
            "sk_test_tiergate",
            base_addresses={"api": stripe_url},
            max_network_retries=0,
            http_client=stripe.HTTPXClient(timeout=1.0),
        )

    return StripeGateway(
        connect, budget_s=budget_s, sleep=waits, jitter=lambda: jitter, monotonic=waits.monotonic
    )


@pytest.mark.parametrize(("jitter", "delays"), [(1.0, [0.25, 0.5, 1.0]), (0.5, [0.125, 0.25, 0.5])])
async def test_backoff_doubles_scaled_by_the_jitter(
    fake_stripe: FakeStripe, stripe_url: str, jitter: float, delays: list[float]
) -> None:
    fake_stripe.failures = [503] * 10
    waits = Waits()
    with pytest.raises(StripeUnavailable, match=r"HTTP 503"):
        await checkout(waiting_gateway(stripe_url, waits, jitter, budget_s=30.0))
    assert waits.delays == delays  # full jitter: random() times the doubled step
    assert len(fake_stripe.requests) == 4  # the attempt cap


async def test_no_wait_outlasts_the_budget(fake_stripe: FakeStripe, stripe_url: str) -> None:
    fake_stripe.failures = [503] * 10
    waits = Waits()
    with pytest.raises(StripeUnavailable):
        await checkout(waiting_gateway(stripe_url, waits, 1.0, budget_s=0.6))
    assert waits.delays == [0.25]  # the next, 0.5 s, would end past the budget: give up now
    assert len(fake_stripe.requests) == 2


@pytest.mark.parametrize(
    ("status", "header", "attempts", "outcome"),
    [
        pytest.param(503, "false", 1, StripeUnavailable, id="5xx-stripe-says-no"),
        pytest.param(400, "true", 2, None, id="4xx-stripe-says-yes"),
    ],
)
async def test_stripe_should_retry_overrides_the_status(
    fake_stripe: FakeStripe,
    stripe_url: str,
    status: int,
    header: str,
    attempts: int,
    outcome: type[Exception] | None,
) -> None:
    fake_stripe.failures = [status]
    fake_stripe.should_retry = header
    gw = waiting_gateway(stripe_url, Waits(), 1.0, budget_s=30.0)
    if outcome is None:
        assert (await checkout(gw)).startswith("https://checkout.stripe.test/")
    else:
        with pytest.raises(outcome):
            await checkout(gw)
    assert len(fake_stripe.requests) == attempts


# Run in a fresh interpreter where `stripe.params` cannot be imported, as in the Lambda
# package, which leaves it out (dev.py build_lambda): every call the gateway makes.
_WITHOUT_PARAMS = """
import asyncio, sys
from importlib.abc import MetaPathFinder

class Refuse(MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "stripe.params" or name.startswith("stripe.params."):
            raise ImportError(f"{name} is not in the Lambda package")
        return None

sys.meta_path.insert(0, Refuse())
from tiergate.billing.stripe_client import build_stripe
from tiergate.meter.events import MeterEvent
from tiergate import Settings

async def main(url, now_s):
    gw = build_stripe(Settings(stripe_secret_key="sk_test_x", stripe_api_base=url).billing)
    await gw.checkout_url(account_id="acme", customer_id="", price="price_pro",
                          success_url="s", cancel_url="c")
    await gw.portal_url(customer_id="cus_1", return_url="r")
    await gw.subscription("sub_9")
    print(await gw.send_meter_event(MeterEvent("api_overage", "cus_1", 5, now_s, "tg_1")))
    await gw.aclose()
    assert "stripe.params" not in sys.modules

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def test_every_call_works_without_stripes_type_only_params(
    fake_stripe: FakeStripe, stripe_url: str, clock: FakeClock
) -> None:
    fake_stripe.subscriptions["sub_9"] = {"id": "sub_9", "object": "subscription", "status": "x"}
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PARAMS, stripe_url, str(clock.now_ms() // 1000)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": _PATH},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("accepted")
    assert [path for _, path, _ in fake_stripe.requests if "checkout/sessions" in path]
