"""The Stripe gateway's retry policy, over HTTP against the stand-in."""

from __future__ import annotations

import time

import pytest

from tiergate.billing.stripe_client import StripeGateway, build_stripe
from tiergate.errors import StripeRejected, StripeUnavailable

from ..support.fakestripe import FakeStripe
from .conftest import billing_settings


def gateway(stripe_url: str, **settings: object) -> StripeGateway:
    built = build_stripe(billing_settings(stripe_url, **settings))
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
