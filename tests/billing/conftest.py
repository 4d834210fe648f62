"""Billing fixtures: an app wired to a registry (in-process or DynamoDB over HTTP), the hot
store, and the Stripe stand-in on a loopback port; a frozen clock shared by all of them."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.keys import generate_key, key_digest
from tiergate.registry import Account, KeyRecord, Registry
from tiergate.store import HotStore
from tiergate.web.example import create_app
from tiergate.wiring import Parts, build

from ..support.fakestripe import FakeStripe, running_fake_stripe

NOW_MS = 1_794_744_000_000  # 2026-11-15 12:00 UTC
SECRET = "whsec_current"
OLD_SECRET = "whsec_previous"  # still accepted while the operator rolls the secret
TIERS = json.dumps(
    {
        "free": {"limit": 100, "price": 0, "burst": 1000},
        "pro": {"limit": 5000, "price": 29, "burst": 1000, "stripe_price": "price_pro"},
        "enterprise": {"limit": 90000, "price": 199, "burst": 1000, "stripe_price": "price_ent"},
    }
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW_MS)


@pytest.fixture
def fake_stripe(clock: FakeClock) -> FakeStripe:
    return FakeStripe(clock=clock, webhook_secret=SECRET)


@pytest.fixture
def stripe_url(fake_stripe: FakeStripe) -> Iterator[str]:
    with running_fake_stripe(fake_stripe) as url:
        yield url


@pytest.fixture(params=["memory", "dynamodb"])
def registry_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where the registry lives: in-process, or a fresh table on the DynamoDB server."""
    if request.param == "memory":
        return {}
    return {
        "table": request.getfixturevalue("dynamodb_table"),
        "aws_endpoint_url_dynamodb": request.getfixturevalue("dynamodb_endpoint"),
        "aws_region": "us-east-1",
    }


@dataclass
class Billing:
    clock: FakeClock
    settings: Settings
    parts: Parts
    app: FastAPI
    client: httpx.AsyncClient
    stripe: FakeStripe

    def parts_with(
        self,
        settings: Settings | None = None,
        *,
        store: HotStore | None = None,
        registry: Registry | None = None,
    ) -> Parts:
        """Another container of the same deployment: its own settings (no Stripe key, say),
        store or registry (one that fails), and this one's stores otherwise."""
        return build(
            settings or self.settings,
            clock=self.clock,
            store=store or self.parts.store,
            registry=registry or self.parts.registry,
        )

    @asynccontextmanager
    async def rewired(
        self, *, store: HotStore | None = None, registry: Registry | None = None
    ) -> AsyncIterator[Billing]:
        """The app on another container (parts_with), for a test that replaced a store."""
        parts = self.parts_with(store=store, registry=registry)
        app = create_app(self.settings, parts=parts)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tiergate.test") as c:
            yield Billing(self.clock, self.settings, parts, app, c, self.stripe)

    async def account(self, account_id: str = "acme", tier: str = "free") -> str:
        """An account with one key; returns the key."""
        await self.parts.registry.put_account(Account(account_id, tier=tier))
        key = generate_key("test")
        await self.parts.registry.put_key(
            KeyRecord(key_digest(key), account_id, created_at_ms=self.clock.now_ms())
        )
        return key

    async def get(self, path: str, key: str) -> httpx.Response:
        return await self.client.get(path, headers={"X-API-Key": key})

    async def post(self, path: str, key: str, body: Any = None) -> httpx.Response:
        return await self.client.post(path, headers={"X-API-Key": key}, json=body)

    async def webhook(self, payload: bytes, signature: str | None) -> httpx.Response:
        # As bytes, so a test can send what any client may: a header of Latin-1 bytes.
        headers = {b"Content-Type": b"application/json"}
        if signature is not None:
            headers[b"Stripe-Signature"] = signature.encode("latin-1")
        return await self.client.post("/webhooks/stripe", content=payload, headers=headers)


def billing_settings(stripe_url: str, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "tiers": TIERS,
        "stripe_secret_key": "sk_test_tiergate",
        "stripe_webhook_secret": f"{SECRET},{OLD_SECRET}",
        "stripe_api_base": stripe_url,
        "stripe_retry_budget": 5.0,
        "stripe_timeout": 1.0,
        "billing_return_url": "https://app.example.com/account",
        "past_due_grace_days": 3,
        "dynamodb_timeout": 10.0,  # DynamoDB Local on a busy CI machine, not AWS
    }
    return Settings(**{**fields, **overrides})


@pytest.fixture
async def billing(
    clock: FakeClock,
    fake_stripe: FakeStripe,
    stripe_url: str,
    registry_settings: dict[str, Any],
) -> AsyncIterator[Billing]:
    settings = billing_settings(stripe_url, **registry_settings)
    parts = build(settings, clock=clock)
    app = create_app(settings, parts=parts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tiergate.test") as client:
        yield Billing(clock, settings, parts, app, client, fake_stripe)
    await parts.aclose()
