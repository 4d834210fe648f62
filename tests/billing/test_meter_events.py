"""One meter event through the Stripe gateway, over HTTP against the stand-in, which
deduplicates identifiers as Stripe does."""

from __future__ import annotations

import pytest

from tiergate.billing.stripe_client import StripeGateway, build_stripe
from tiergate.clock import FakeClock
from tiergate.errors import StripeRejected, StripeUnavailable
from tiergate.meter.events import MeterEvent, is_duplicate_refusal

from ..support.fakestripe import FakeStripe
from .conftest import billing_settings


async def no_sleep(_: float) -> None:
    return None


def gateway(stripe_url: str, **settings: object) -> StripeGateway:
    built = build_stripe(billing_settings(stripe_url, **settings).billing, sleep=no_sleep)
    assert built is not None
    return built


def event(clock: FakeClock, identifier: str = "tg_1", value: int = 5) -> MeterEvent:
    return MeterEvent("api_overage", "cus_1", value, clock.now_ms() // 1000, identifier)


async def test_an_event_is_accepted_as_sent(
    fake_stripe: FakeStripe, stripe_url: str, clock: FakeClock
) -> None:
    assert await gateway(stripe_url).send_meter_event(event(clock)) == "accepted"
    [sent] = fake_stripe.meter_events
    assert sent["identifier"] == "tg_1"
    assert sent["payload"] == {"stripe_customer_id": "cus_1", "value": "5"}
    assert sent["timestamp"] == clock.now_ms() // 1000


async def test_a_known_identifier_is_delivered_not_failed(
    fake_stripe: FakeStripe, stripe_url: str, clock: FakeClock
) -> None:
    gw = gateway(stripe_url)
    await gw.send_meter_event(event(clock))
    assert await gw.send_meter_event(event(clock)) == "duplicate"
    assert fake_stripe.meter_requests == 2  # Stripe-Should-Retry: false, so no third try
    assert fake_stripe.metered() == 5


async def test_server_errors_and_rate_limits_are_retried(
    fake_stripe: FakeStripe, stripe_url: str, clock: FakeClock
) -> None:
    fake_stripe.meter_failures = ["500", "429"]
    assert await gateway(stripe_url).send_meter_event(event(clock)) == "accepted"
    assert fake_stripe.meter_requests == 3
    assert len(set(fake_stripe.idempotency_keys)) == 3  # a new request each time
    assert fake_stripe.metered() == 5


async def test_a_lost_answer_is_retried_and_found_delivered(
    fake_stripe: FakeStripe, stripe_url: str, clock: FakeClock
) -> None:
    fake_stripe.meter_failures = ["drop"]
    assert await gateway(stripe_url).send_meter_event(event(clock)) == "duplicate"
    assert fake_stripe.meter_requests == 2
    assert fake_stripe.metered() == 5


async def test_retries_are_bounded(
    fake_stripe: FakeStripe, stripe_url: str, clock: FakeClock
) -> None:
    fake_stripe.meter_failures = ["500"] * 10
    with pytest.raises(StripeUnavailable, match="meter event"):
        await gateway(stripe_url).send_meter_event(event(clock))
    assert fake_stripe.meter_requests == 4
    assert fake_stripe.meter_events == []


async def test_another_refusal_is_a_failure(
    fake_stripe: FakeStripe, stripe_url: str, clock: FakeClock
) -> None:
    stale = MeterEvent("api_overage", "cus_1", 5, clock.now_ms() // 1000 - 40 * 86_400, "tg_1")
    with pytest.raises(StripeRejected, match="Timestamp"):
        await gateway(stripe_url).send_meter_event(stale)
    assert fake_stripe.meter_requests == 1


def test_only_the_duplicate_refusal_counts_as_delivered() -> None:
    assert is_duplicate_refusal(400, "An event already exists with identifier tg_1.")
    assert not is_duplicate_refusal(400, "No such customer: 'cus_x'")
    assert not is_duplicate_refusal(500, "An event already exists with identifier tg_1.")
