"""Checkout and the Billing Portal through HTTP, against the Stripe stand-in."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import httpx
import pytest

from tiergate.config import Settings
from tiergate.web.example import create_app
from tiergate.wiring import build

from .conftest import Billing, billing_settings

pytestmark = pytest.mark.parametrize("registry_settings", ["memory"], indirect=True)


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    slug: str = response.json()["type"].removeprefix("urn:tiergate:problem:")
    return slug


async def test_checkout_returns_a_stripe_url_marked_with_the_account(billing: Billing) -> None:
    key = await billing.account("acme")
    response = await billing.post("/v1/billing/checkout", key, {"tier": "pro"})
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith("https://checkout.stripe.test/")
    method, path, sent = billing.stripe.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert sent["mode"] == "subscription"
    assert sent["client_reference_id"] == "acme"
    assert sent["subscription_data"] == {"metadata": {"account_id": "acme"}}
    assert sent["line_items"] == [{"price": "price_pro", "quantity": "1"}]
    assert sent["success_url"] == (
        "https://app.example.com/account?checkout=success&session_id={CHECKOUT_SESSION_ID}"
    )
    assert "customer" not in sent  # Checkout makes the customer on first purchase
    assert await billing.parts.store.used("acme", 1_793_491_200_000) == 0  # cost 0


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"tier": "gold"}, 400, "unknown-tier"),
        ({"tier": "free"}, 400, "tier-not-for-sale"),
    ],
)
async def test_checkout_refuses_tiers_it_cannot_sell(
    billing: Billing, body: dict[str, str], status: int, slug: str
) -> None:
    key = await billing.account()
    response = await billing.post("/v1/billing/checkout", key, body)
    assert response.status_code == status
    assert problem_type(response) == slug
    assert billing.stripe.requests == []


async def test_checkout_and_portal_need_a_key(billing: Billing) -> None:
    for path in ("/v1/billing/checkout", "/v1/billing/portal"):
        response = await billing.client.post(path, json={"tier": "pro"})
        assert response.status_code == 401
        assert problem_type(response) == "missing-key"


async def test_a_subscribed_account_is_sent_to_the_portal(billing: Billing) -> None:
    key = await billing.account()
    account = await billing.parts.registry.get_account("acme")
    assert account is not None
    await billing.parts.registry.put_account(
        dataclasses.replace(account, tier="pro", customer_id="cus_7", subscription_id="sub_7")
    )
    response = await billing.post("/v1/billing/checkout", key, {"tier": "enterprise"})
    assert response.status_code == 409
    assert problem_type(response) == "already-subscribed"
    portal = await billing.post("/v1/billing/portal", key)
    assert portal.status_code == 200
    assert portal.json()["url"] == "https://billing.stripe.test/p/session/cus_7"
    assert billing.stripe.requests[-1][2] == {
        "customer": "cus_7",
        "return_url": "https://app.example.com/account",
    }


async def test_the_portal_needs_a_checkout_first(billing: Billing) -> None:
    key = await billing.account()
    response = await billing.post("/v1/billing/portal", key)
    assert response.status_code == 409
    assert problem_type(response) == "no-billing-account"


async def test_a_stripe_outage_answers_503_with_retry_after(billing: Billing) -> None:
    key = await billing.account()
    billing.stripe.failures = [503] * 10
    response = await billing.post("/v1/billing/checkout", key, {"tier": "pro"})
    assert response.status_code == 503
    assert problem_type(response) == "stripe-unavailable"
    assert response.headers["Retry-After"] == "5"
    assert len(billing.stripe.requests) == 4  # every attempt the gateway allows, then gave up


async def test_a_transient_stripe_error_is_retried(billing: Billing) -> None:
    key = await billing.account()
    billing.stripe.failures = [500]
    response = await billing.post("/v1/billing/checkout", key, {"tier": "pro"})
    assert response.status_code == 200
    assert len(billing.stripe.requests) == 2


async def test_without_a_stripe_key_billing_answers_503(billing: Billing) -> None:
    settings = Settings(tiers=billing_settings("http://unused").gate.tiers)
    app = create_app(settings, parts=build(settings, clock=billing.clock))
    parts = app.state.tiergate
    key = await Billing(
        billing.clock, settings, parts, app, billing.client, billing.stripe
    ).account()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t.test"
    ) as client:
        response = await client.post(
            "/v1/billing/checkout", json={"tier": "pro"}, headers={"X-API-Key": key}
        )
    assert response.status_code == 503
    assert problem_type(response) == "billing-not-configured"


async def test_a_hanging_stripe_does_not_hold_up_gated_routes(billing: Billing) -> None:
    key = await billing.account()
    billing.stripe.hang_s = 0.8
    checkout = asyncio.create_task(billing.post("/v1/billing/checkout", key, {"tier": "pro"}))
    await asyncio.sleep(0.05)  # the checkout is now waiting on Stripe
    started = time.monotonic()
    response = await billing.get("/v1/hello", key)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert not checkout.done()
    assert elapsed < 0.4
    assert (await checkout).status_code == 200
