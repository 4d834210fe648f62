"""POST /webhooks/stripe through HTTP, on the in-process registry and on DynamoDB."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from typing import Any

import httpx
import pytest

from tiergate.errors import StoreUnavailable
from tiergate.registry import Applied, EventRecord, Registry, SubscriptionUpdate
from tiergate.web.webhooks import create_webhook_app

from .conftest import OLD_SECRET, Billing, billing_settings
from .events import (
    NOW_S,
    deliver,
    event,
    invoice,
    outcome,
    signed,
    subscription,
    tier_and_status,
    upgrade,
)

DAY_S = 86_400


def tampered(payload: bytes, header: str) -> tuple[bytes, str | None]:
    return payload.replace(b"price_pro", b"price_ent"), header


def wrong_secret(payload: bytes, header: str) -> tuple[bytes, str | None]:
    return signed(payload, at_s=NOW_S, secret="whsec_attacker")


def stale(payload: bytes, header: str) -> tuple[bytes, str | None]:
    return signed(payload, at_s=NOW_S - 301)


def future(payload: bytes, header: str) -> tuple[bytes, str | None]:
    return signed(payload, at_s=NOW_S + 301)


def missing_header(payload: bytes, header: str) -> tuple[bytes, str | None]:
    return payload, None


def malformed_json(payload: bytes, header: str) -> tuple[bytes, str | None]:
    return signed(b'{"id": "evt_1", "type": ', at_s=NOW_S)


def not_an_event(payload: bytes, header: str) -> tuple[bytes, str | None]:
    return signed(b'["an", "array"]', at_s=NOW_S)


def garbled_header(payload: bytes, header: str) -> tuple[bytes, str | None]:
    return payload, "t=yesterday,v1="


def non_ascii_signature(payload: bytes, header: str) -> tuple[bytes, str | None]:
    return payload, f"t={NOW_S},v1=\u00e9\u00e9"


def superscript_timestamp(payload: bytes, header: str) -> tuple[bytes, str | None]:
    # "²".isdigit() is True, yet int("²") fails.
    return payload, header.replace(f"t={NOW_S}", "t=\u00b2", 1)


@pytest.mark.parametrize(
    "spoil",
    [
        tampered,
        wrong_secret,
        stale,
        future,
        missing_header,
        malformed_json,
        not_an_event,
        garbled_header,
        non_ascii_signature,
        superscript_timestamp,
    ],
)
async def test_a_delivery_that_fails_verification_answers_400_and_writes_nothing(
    billing: Billing, spoil: Any
) -> None:
    await billing.account()
    evt = upgrade()
    payload, header = spoil(*signed(evt, at_s=NOW_S))
    response = await billing.webhook(payload, header)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:tiergate:problem:invalid-signature"
    assert await tier_and_status(billing) == ("free", "active")
    assert outcome(await deliver(billing, evt)) == "applied"  # its id was never recorded


async def test_the_previous_secret_and_the_edge_of_tolerance_are_accepted(
    billing: Billing,
) -> None:
    await billing.account()
    payload, header = signed(upgrade(), at_s=NOW_S - 300, secret=OLD_SECRET)
    assert outcome(await billing.webhook(payload, header)) == "applied"


async def test_twenty_concurrent_deliveries_apply_once(billing: Billing) -> None:
    await billing.account()
    payload, header = signed(upgrade(), at_s=NOW_S)
    responses = await asyncio.gather(*(billing.webhook(payload, header) for _ in range(20)))
    assert sorted(outcome(r) for r in responses) == ["applied"] + ["duplicate"] * 19
    assert await tier_and_status(billing) == ("pro", "active")


async def test_every_order_of_four_events_ends_in_the_newest_state(billing: Billing) -> None:
    def sequence(account: str) -> list[dict[str, Any]]:
        states = [
            ("incomplete", "price_pro"),
            ("active", "price_pro"),
            ("past_due", "price_pro"),
            ("active", "price_ent"),  # the newest: enterprise, active
        ]
        return [
            event(
                "customer.subscription.updated",
                subscription(status=status, price=price, account=account),
                created=NOW_S - 100 + n,
                event_id=f"evt_{account}_{n}",
            )
            for n, (status, price) in enumerate(states)
        ]

    for n, order in enumerate(itertools.permutations(range(4))):
        account = f"acct-{n}"
        await billing.account(account)
        events = sequence(account)
        for index in order:
            assert (await deliver(billing, events[index])).status_code == 200
        assert await tier_and_status(billing, account) == ("enterprise", "active"), order


class FailsOnce:
    """A registry whose first apply_event fails as if DynamoDB dropped mid-delivery."""

    def __init__(self, inner: Registry) -> None:
        self.inner = inner
        self.failures = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def apply_event(
        self, event: EventRecord, update: SubscriptionUpdate | None, **kwargs: Any
    ) -> Applied:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("DynamoDB: connection reset")
        return await self.inner.apply_event(event, update, **kwargs)


async def test_a_registry_failure_answers_503_and_the_retry_applies_once(
    billing: Billing,
) -> None:
    key = await billing.account()
    async with billing.rewired(registry=FailsOnce(billing.parts.registry)) as b:
        evt = upgrade()
        response = await deliver(b, evt)
        assert response.status_code == 503
        assert response.json()["type"] == "urn:tiergate:problem:event-not-applied"
        assert await tier_and_status(b) == ("free", "active")
        assert (await b.get("/v1/pro/hello", key)).status_code == 403
        assert outcome(await deliver(b, evt)) == "applied"
        assert outcome(await deliver(b, evt)) == "duplicate"
        assert (await b.get("/v1/pro/hello", key)).status_code == 200


async def test_an_unknown_event_type_is_recorded_and_changes_nothing(billing: Billing) -> None:
    await billing.account()
    evt = event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"}, created=NOW_S)
    assert outcome(await deliver(billing, evt)) == "recorded"
    assert outcome(await deliver(billing, evt)) == "duplicate"
    assert await tier_and_status(billing) == ("free", "active")


async def test_an_upgrade_holds_on_the_very_next_request(billing: Billing) -> None:
    key = await billing.account()
    assert (await billing.get("/v1/pro/hello", key)).status_code == 403
    assert outcome(await deliver(billing, upgrade())) == "applied"
    response = await billing.get("/v1/pro/hello", key)
    assert response.status_code == 200
    assert '"quota";q=5000' in response.headers["RateLimit-Policy"]


async def test_a_failed_payment_suspends_after_the_grace_period_and_payment_restores(
    billing: Billing,
) -> None:
    key = await billing.account()
    await deliver(billing, upgrade(created=NOW_S - 60))
    failed = event("invoice.payment_failed", invoice(), created=NOW_S - 50)
    assert outcome(await deliver(billing, failed)) == "applied"
    assert (await billing.get("/v1/pro/hello", key)).status_code == 200  # within grace
    billing.clock.advance(3 * DAY_S * 1000 - 50_000)  # grace runs from the event's time
    response = await billing.get("/v1/pro/hello", key)
    assert response.status_code == 402
    assert response.json()["subscription_status"] == "past_due"
    paid = event("invoice.paid", invoice(), created=billing.clock.now_ms() // 1000 - 5)
    assert outcome(await deliver(billing, paid)) == "applied"
    assert (await billing.get("/v1/pro/hello", key)).status_code == 200


async def test_an_invoice_without_metadata_finds_its_account_by_customer(
    billing: Billing,
) -> None:
    await billing.account()
    await deliver(billing, upgrade(created=NOW_S - 60))
    failed = event("invoice.payment_failed", invoice(account=None), created=NOW_S - 50)
    assert outcome(await deliver(billing, failed)) == "applied"
    assert await tier_and_status(billing) == ("pro", "past_due")


async def test_a_cancelled_subscription_falls_back_to_the_lowest_tier(billing: Billing) -> None:
    key = await billing.account()
    await deliver(billing, upgrade(created=NOW_S - 60))
    ended = event(
        "customer.subscription.deleted", subscription(status="canceled"), created=NOW_S - 50
    )
    assert outcome(await deliver(billing, ended)) == "applied"
    assert (await billing.get("/v1/pro/hello", key)).status_code == 403
    assert (await billing.get("/v1/hello", key)).status_code == 200
    account = await billing.parts.registry.get_account("acme")
    assert account is not None
    assert (account.tier, account.subscription_id, account.customer_id) == ("free", "", "cus_1")


async def test_a_paused_subscription_answers_402(billing: Billing) -> None:
    key = await billing.account()
    await deliver(billing, upgrade(created=NOW_S - 60))
    paused = event(
        "customer.subscription.paused", subscription(status="paused"), created=NOW_S - 50
    )
    assert outcome(await deliver(billing, paused)) == "applied"
    assert (await billing.get("/v1/hello", key)).status_code == 402


async def test_a_price_no_tier_sells_answers_503_and_is_retried_later(billing: Billing) -> None:
    await billing.account()
    evt = upgrade(price="price_unknown")
    response = await deliver(billing, evt)
    assert response.status_code == 503
    assert "price_unknown" in response.json()["detail"]
    assert await tier_and_status(billing) == ("free", "active")


async def test_events_of_the_same_second_take_the_state_stripe_has_now(
    billing: Billing,
) -> None:
    await billing.account()
    assert outcome(await deliver(billing, upgrade(created=NOW_S - 5))) == "applied"
    billing.stripe.subscriptions["sub_1"] = subscription(status="unpaid")
    tie = upgrade(created=NOW_S - 5, status="past_due")  # same second, says past_due
    assert outcome(await deliver(billing, tie)) == "applied"
    assert await tier_and_status(billing) == ("pro", "unpaid")  # what Stripe says now
    assert ("GET", "/v1/subscriptions/sub_1", {}) in billing.stripe.requests


async def test_without_a_webhook_secret_the_route_answers_503_and_says_so_once(
    billing: Billing, stripe_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = billing_settings(stripe_url, stripe_webhook_secret=None)
    app = create_webhook_app(settings, parts=billing.parts)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hooks.test"
    ) as client:
        payload, header = signed(upgrade(), at_s=NOW_S)
        responses = [
            await client.post(
                "/webhooks/stripe", content=payload, headers={"Stripe-Signature": header}
            )
            for _ in range(3)  # Stripe's retries
        ]
    for response in responses:
        assert response.status_code == 503
        assert response.json()["type"] == "urn:tiergate:problem:webhooks-not-configured"
    unset = [r for r in caplog.records if "STRIPE_WEBHOOK_SECRET is not set" in r.message]
    assert len(unset) == 1


async def test_the_webhook_deploys_alone(billing: Billing, stripe_url: str) -> None:
    await billing.account()
    app = create_webhook_app(billing_settings(stripe_url), parts=billing.parts)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hooks.test"
    ) as client:
        payload, header = signed(upgrade(), at_s=NOW_S)
        response = await client.post(
            "/webhooks/stripe", content=payload, headers={"Stripe-Signature": header}
        )
        assert json.loads(response.content) == {"received": True, "outcome": "applied"}
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/v1/hello")).status_code == 404  # no API routes here


async def test_an_account_whose_overrides_cannot_be_enforced_answers_503_until_fixed(
    billing: Billing,
) -> None:
    key = await billing.account()
    account = await billing.parts.registry.get_account("acme")
    assert account is not None
    await billing.parts.registry.put_account(dataclasses.replace(account, burst_override=0))
    response = await deliver(billing, upgrade())
    assert response.status_code == 503
    assert response.json()["type"] == "urn:tiergate:problem:tier-not-configured"
    assert "Retry-After" not in response.headers
    gated = await billing.get("/v1/hello", key)
    assert gated.status_code == 503  # not a 500 per request
    assert gated.json()["type"] == "urn:tiergate:problem:tier-not-configured"
