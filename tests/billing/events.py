"""Stripe events as Stripe sends them (API version 2025-03-31.basil shapes), signed, and
their delivery to the app under test."""

from __future__ import annotations

import json
from typing import Any

import httpx
import stripe

from .conftest import NOW_MS, SECRET, Billing

MONTH_S = 30 * 86_400
NOW_S = NOW_MS // 1000


def subscription(
    sub_id: str = "sub_1",
    *,
    status: str = "active",
    price: str = "price_pro",
    account: str | None = "acme",
    customer: str = "cus_1",
    period_start_s: int = 1_794_700_000,
) -> dict[str, Any]:
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "metadata": {"account_id": account} if account else {},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{sub_id}",
                    "object": "subscription_item",
                    "price": {"id": price, "object": "price"},
                    "current_period_start": period_start_s,
                    "current_period_end": period_start_s + MONTH_S,
                }
            ],
        },
    }


def invoice(sub_id: str = "sub_1", *, account: str | None = "acme") -> dict[str, Any]:
    return {
        "id": f"in_{sub_id}",
        "object": "invoice",
        "customer": "cus_1",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": sub_id,
                "metadata": {"account_id": account} if account else {},
            },
        },
    }


def event(kind: str, obj: dict[str, Any], *, created: int, event_id: str = "") -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{kind}_{created}_{obj.get('id', '')}_{obj.get('status', '')}",
        "object": "event",
        "type": kind,
        "created": created,
        "livemode": False,
        "data": {"object": obj},
    }


def signed(evt: dict[str, Any] | bytes, *, at_s: int, secret: str = SECRET) -> tuple[bytes, str]:
    """The body and the Stripe-Signature header the real `stripe` library makes for it."""
    payload = evt if isinstance(evt, bytes) else json.dumps(evt).encode()
    header = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=at_s
    )
    return payload, header


def upgrade(created: int = NOW_S - 10, **fields: Any) -> dict[str, Any]:
    """customer.subscription.updated: acme on pro (by default), active."""
    return event("customer.subscription.updated", subscription(**fields), created=created)


async def deliver(billing: Billing, evt: dict[str, Any], **kwargs: Any) -> httpx.Response:
    payload, header = signed(evt, at_s=billing.clock.now_ms() // 1000, **kwargs)
    return await billing.webhook(payload, header)


def outcome(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    result: str = response.json()["outcome"]
    return result


async def tier_and_status(billing: Billing, account: str = "acme") -> tuple[str, str]:
    found = await billing.parts.registry.get_account(account)
    assert found is not None
    return found.tier, found.status


def checkout_session(
    *, account: str = "acme", customer: str = "cus_1", sub_id: str = "sub_1"
) -> dict[str, Any]:
    """A completed subscription Checkout Session, its subscription not expanded."""
    return {
        "id": f"cs_test_{sub_id}",
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "paid",
        "client_reference_id": account,
        "customer": customer,
        "subscription": sub_id,
        "metadata": {},
    }
