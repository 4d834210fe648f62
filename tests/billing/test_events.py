"""Reading Stripe objects: current and older API shapes, and what changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tiergate.billing.events import UnknownPrice, interpret
from tiergate.billing.signature import InvalidSignature, verify
from tiergate.registry import SubscriptionUpdate
from tiergate.tiers import parse_tiers

from .conftest import SECRET, TIERS
from .events import event, invoice, signed, subscription

tiers = parse_tiers(TIERS)


def read(kind: str, obj: dict[str, Any]) -> SubscriptionUpdate | None:
    return interpret(event(kind, obj, created=100), tiers)


def test_a_subscription_event_carries_tier_status_and_period() -> None:
    update = read("customer.subscription.updated", subscription(period_start_s=1000))
    assert update == SubscriptionUpdate(
        account_id="acme",
        tier="pro",
        status="active",
        period_start_ms=1_000_000,
        period_end_ms=(1000 + 30 * 86_400) * 1000,
        customer_id="cus_1",
        subscription_id="sub_1",
    )


def test_older_api_versions_keep_the_period_on_the_subscription() -> None:
    old = subscription()
    item = old["items"]["data"][0]
    old["current_period_start"] = item.pop("current_period_start")
    old["current_period_end"] = item.pop("current_period_end")
    assert read("customer.subscription.updated", old) == read(
        "customer.subscription.updated", subscription()
    )


def test_older_api_versions_name_an_invoices_subscription_directly() -> None:
    old = {
        "id": "in_1",
        "object": "invoice",
        "customer": "cus_1",
        "subscription": "sub_1",
        "subscription_details": {"metadata": {"account_id": "acme"}},
    }
    assert read("invoice.paid", old) == read("invoice.paid", invoice())


def test_a_checkout_links_the_customer_and_subscription() -> None:
    session = {
        "id": "cs_1",
        "object": "checkout.session",
        "mode": "subscription",
        "client_reference_id": "acme",
        "customer": "cus_1",
        "subscription": "sub_1",
    }
    assert read("checkout.session.completed", session) == SubscriptionUpdate(
        account_id="acme", customer_id="cus_1", subscription_id="sub_1"
    )
    expanded = read("checkout.session.completed", {**session, "subscription": subscription()})
    assert expanded is not None
    assert (expanded.tier, expanded.status) == ("pro", "active")


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        ("checkout.session.completed", {"object": "checkout.session", "mode": "payment"}),
        ("invoice.paid", {"id": "in_1", "object": "invoice", "customer": "cus_1"}),  # one-off
        ("customer.created", {"id": "cus_1", "object": "customer"}),
    ],
)
def test_events_that_change_no_access(kind: str, obj: dict[str, Any]) -> None:
    assert read(kind, obj) is None


def test_an_unpaid_first_invoice_grants_nothing_and_its_expiry_ends_the_subscription() -> None:
    incomplete = read("customer.subscription.created", subscription(status="incomplete"))
    assert incomplete == SubscriptionUpdate(account_id="acme", customer_id="cus_1")
    expired = read("customer.subscription.updated", subscription(status="incomplete_expired"))
    assert expired == read("customer.subscription.deleted", subscription(status="canceled"))
    assert expired is not None
    assert (expired.tier, expired.only_if_subscription) == ("free", "sub_1")


def test_a_price_no_tier_sells_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnknownPrice, match="price_mystery"):
        read("customer.subscription.created", subscription(price="price_mystery"))


def test_any_of_several_signatures_may_match() -> None:
    payload, header = signed(event("x", {}, created=5), at_s=50)
    t, good = header.split(",")
    wrong = "v1=" + "0" * 64  # well-formed, matching no secret
    assert verify(payload, f"{t},{wrong},{good}", [SECRET], tolerance_s=300, now_s=50)["id"]
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify(payload, f"{t},{wrong}", [SECRET], tolerance_s=300, now_s=50)
