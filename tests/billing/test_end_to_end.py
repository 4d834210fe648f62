"""A customer's whole billing life, every part real or a protocol peer: Redis behind the local
Upstash REST server, DynamoDB on moto's server, Stripe's stand-in over HTTP, signed events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tiergate.clock import FakeClock
from tiergate.registry.dynamo import DynamoRegistry
from tiergate.store.upstash import UpstashStore
from tiergate.web.example import create_app
from tiergate.wiring import build
from tiergate_tools.localredis.background import UpstashEndpoint

from ..support.fakestripe import FakeStripe
from .conftest import billing_settings

HOUR_MS = 3_600_000


@pytest.fixture
async def client_and_key(
    clock: FakeClock,
    stripe_url: str,
    upstash: UpstashEndpoint,
    dynamodb_endpoint: str,
    dynamodb_table: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    settings = billing_settings(
        stripe_url,
        upstash_redis_rest_url=upstash.url,
        upstash_redis_rest_token=upstash.token,
        redis_namespace=f"e2e{uuid.uuid4().hex[:8]}",
        table=dynamodb_table,
        aws_endpoint_url_dynamodb=dynamodb_endpoint,
        past_due_grace_days=0,  # a failed payment suspends at once
    )
    parts = build(settings, clock=clock)
    assert isinstance(parts.store, UpstashStore)
    assert isinstance(parts.registry, DynamoRegistry)
    new = await parts.admin().create_key("acme", None)  # what `tiergate keys create` does
    app = create_app(settings, parts=parts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        client.headers["X-API-Key"] = new.key
        yield client, new.key
    await parts.aclose()


async def quota(client: httpx.AsyncClient) -> int:
    usage = await client.get("/v1/usage")
    assert usage.status_code == 200, usage.text
    limit: int = usage.json()["limit"]
    return limit


async def deliver_all(fake: FakeStripe, client: httpx.AsyncClient) -> list[str]:
    responses = await fake.deliver(client)
    assert [r.status_code for r in responses] == [200] * len(responses), [r.text for r in responses]
    return [r.json()["outcome"] for r in responses]


async def test_upgrade_then_a_failed_payment_then_payment_restores(
    client_and_key: tuple[httpx.AsyncClient, str], fake_stripe: FakeStripe, clock: FakeClock
) -> None:
    client, _ = client_and_key
    assert (await client.get("/v1/pro/hello")).status_code == 403
    assert await quota(client) == 100

    # The customer checks out from the app, and pays on Stripe's page.
    checkout = await client.post("/v1/billing/checkout", json={"tier": "pro"})
    assert checkout.status_code == 200, checkout.text
    (session_id,) = fake_stripe.sessions
    clock.advance(HOUR_MS)
    subscription = fake_stripe.complete_checkout(session_id)
    # Both events carry the same second: the second is settled by reading Stripe back.
    assert await deliver_all(fake_stripe, client) == ["applied", "applied"]
    assert ("GET", f"/v1/subscriptions/{subscription['id']}", {}) in fake_stripe.requests

    response = await client.get("/v1/pro/hello")
    assert response.status_code == 200
    assert await quota(client) == 5000

    clock.advance(HOUR_MS)
    fake_stripe.fail_payment(subscription["id"])
    assert await deliver_all(fake_stripe, client) == ["applied", "applied"]
    denied = await client.get("/v1/hello")
    assert denied.status_code == 402
    assert denied.json()["subscription_status"] == "past_due"

    clock.advance(HOUR_MS)
    fake_stripe.pay_invoice(subscription["id"])
    assert await deliver_all(fake_stripe, client) == ["applied", "applied"]
    assert (await client.get("/v1/pro/hello")).status_code == 200

    # Portal, for the customer who now has a Stripe customer id.
    portal = await client.post("/v1/billing/portal")
    assert portal.status_code == 200
    assert portal.json()["url"].endswith(subscription["customer"])
