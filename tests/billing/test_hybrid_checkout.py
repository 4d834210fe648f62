"""Hybrid pricing at checkout: a tier with overage sells its flat price and its metered
overage price together, and the subscription that results still maps to the tier by its
flat price alone. Against the Stripe stand-in, which refuses a quantity on a metered price
(and a missing one on a licensed price) as Stripe does."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tiergate.billing.events import UnknownPrice, interpret
from tiergate.clock import FakeClock
from tiergate.errors import StripeRejected
from tiergate.tiers import parse_tiers
from tiergate.web.example import create_app
from tiergate.wiring import build

from ..support.fakestripe import FakeStripe
from .conftest import Billing, billing_settings
from .events import deliver, event, outcome, subscription

HYBRID_TIERS = json.dumps(
    {
        "free": {"limit": 100, "price": 0, "burst": 1000},
        "pro": {
            "limit": 5000,
            "price": 29,
            "burst": 1000,
            "stripe_price": "price_pro",
            "overage": {
                "meter": "api_overage",
                "unit_price": 0.002,
                "cap": 10000,
                "stripe_price": "price_pro_overage",
            },
        },
        "enterprise": {"limit": 90000, "price": 199, "burst": 1000, "stripe_price": "price_ent"},
    }
)
tiers = parse_tiers(HYBRID_TIERS)


@pytest.fixture
async def hybrid(
    clock: FakeClock, fake_stripe: FakeStripe, stripe_url: str
) -> AsyncIterator[Billing]:
    fake_stripe.metered_prices.add("price_pro_overage")
    settings = billing_settings(stripe_url, tiers=HYBRID_TIERS)
    parts = build(settings, clock=clock)
    app = create_app(settings, parts=parts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tiergate.test") as client:
        yield Billing(clock, settings, parts, app, client, fake_stripe)
    await parts.aclose()


def with_metered_item(sub: dict[str, Any], *, first: bool) -> dict[str, Any]:
    """The subscription with the overage's metered item added (Stripe promises no order)."""
    sub = copy.deepcopy(sub)
    items: list[dict[str, Any]] = sub["items"]["data"]
    metered = {**copy.deepcopy(items[0]), "id": "si_metered"}
    metered["price"] = {
        "id": "price_pro_overage",
        "object": "price",
        "recurring": {"usage_type": "metered", "meter": "mtr_1"},
    }
    metered.pop("quantity", None)
    items.insert(0 if first else len(items), metered)
    return sub


async def test_checkout_for_a_hybrid_tier_adds_the_metered_price_without_quantity(
    hybrid: Billing,
) -> None:
    key = await hybrid.account("acme")
    response = await hybrid.post("/v1/billing/checkout", key, {"tier": "pro"})
    assert response.status_code == 200, response.text
    _, path, sent = hybrid.stripe.requests[-1]
    assert path == "/v1/checkout/sessions"
    assert sent["line_items"] == [
        {"price": "price_pro", "quantity": "1"},
        {"price": "price_pro_overage"},
    ]


async def test_checkout_for_a_flat_tier_sells_its_price_alone(hybrid: Billing) -> None:
    key = await hybrid.account("acme")
    response = await hybrid.post("/v1/billing/checkout", key, {"tier": "enterprise"})
    assert response.status_code == 200, response.text
    assert hybrid.stripe.requests[-1][2]["line_items"] == [{"price": "price_ent", "quantity": "1"}]


async def test_the_stand_in_refuses_a_quantity_on_a_metered_price(hybrid: Billing) -> None:
    """What the test above relies on: the stand-in holds checkout to Stripe's rule."""
    gateway = hybrid.parts.stripe
    assert gateway is not None
    with pytest.raises(StripeRejected, match="usage_type is `metered`"):
        # The metered price sold as if it were flat: quantity 1.
        await gateway.checkout_url(
            account_id="acme",
            customer_id="",
            price="price_pro_overage",
            success_url="https://app.example.com/ok",
            cancel_url="https://app.example.com/no",
        )


async def test_a_completed_hybrid_checkout_puts_the_account_on_the_tier(hybrid: Billing) -> None:
    """Checkout, payment on Stripe's page, both events delivered: the subscription carries
    the flat and the metered item, and the account is on pro for the subscription's period."""
    key = await hybrid.account("acme")
    assert (await hybrid.post("/v1/billing/checkout", key, {"tier": "pro"})).status_code == 200
    (session_id,) = hybrid.stripe.sessions
    sub = hybrid.stripe.complete_checkout(session_id)
    prices = [item["price"]["id"] for item in sub["items"]["data"]]
    assert prices == ["price_pro", "price_pro_overage"]
    answers = await hybrid.stripe.deliver(hybrid.client)
    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    account = await hybrid.parts.registry.get_account("acme")
    assert account is not None
    assert (account.tier, account.status, account.subscription_id) == ("pro", "active", sub["id"])
    assert account.customer_id == sub["customer"]
    start_s = sub["items"]["data"][0]["current_period_start"]
    assert account.period_start_ms == start_s * 1000


@pytest.mark.parametrize("metered_first", [True, False])
def test_a_subscription_maps_to_its_tier_by_the_flat_price(metered_first: bool) -> None:
    sub = with_metered_item(subscription(period_start_s=1000), first=metered_first)
    update = interpret(event("customer.subscription.updated", sub, created=100), tiers)
    assert update is not None
    assert update.tier == "pro"
    assert update.period_start_ms == 1_000_000
    assert update.subscription_id == "sub_1"


def test_the_metered_price_alone_sells_no_tier() -> None:
    sub = subscription(price="price_pro_overage")
    with pytest.raises(UnknownPrice, match="price_pro_overage"):
        interpret(event("customer.subscription.created", sub, created=100), tiers)


async def test_a_webhook_with_both_items_applies_the_flat_tier(hybrid: Billing) -> None:
    await hybrid.account("acme")
    sub = with_metered_item(subscription(), first=True)
    now_s = hybrid.clock.now_ms() // 1000
    response = await deliver(
        hybrid, event("customer.subscription.updated", sub, created=now_s - 10)
    )
    assert outcome(response) == "applied"
    account = await hybrid.parts.registry.get_account("acme")
    assert account is not None
    assert account.tier == "pro"
