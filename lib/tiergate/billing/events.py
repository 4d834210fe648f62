"""What a Stripe event says about an account, as a `SubscriptionUpdate`. Pure: no I/O.

Handled: checkout.session.completed, customer.subscription.created|updated|paused|resumed|
deleted, invoice.paid and invoice.payment_failed. Anything else changes nothing (recorded).

Field locations follow Stripe's current API (periods on subscription items, an invoice's
subscription under `parent.subscription_details`) and fall back to the older places, so an
account pinned to an older API version works too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..errors import UnknownPrice
from ..registry import SubscriptionUpdate
from ..tiers import Tier, Tiers

__all__ = ["UnknownPrice", "interpret", "subscription_update"]

_SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.subscription.deleted",
    }
)
_ENDED = frozenset({"canceled", "incomplete_expired"})
# An invoice event asserts only the payment's outcome; the subscription events that Stripe
# sends with it carry the rest.
_INVOICE_STATUS = {"invoice.paid": "active", "invoice.payment_failed": "past_due"}


def interpret(event: Mapping[str, Any], tiers: Tiers) -> SubscriptionUpdate | None:
    """The update the event asserts; account_id is "" when only the customer is known."""
    kind, obj = event["type"], event["data"]["object"]
    if kind in _SUBSCRIPTION_EVENTS:
        return subscription_update(obj, tiers, ended=kind == "customer.subscription.deleted")
    if kind == "checkout.session.completed":
        return _checkout(obj, tiers)
    if kind in _INVOICE_STATUS:
        subscription = _invoice_subscription(obj)
        if not subscription:
            return None  # a one-off invoice: nothing to do with access
        return SubscriptionUpdate(
            account_id=_text(_invoice_metadata(obj).get("account_id")),
            customer_id=_id(obj.get("customer")) or None,
            status=_INVOICE_STATUS[kind],
            only_if_subscription=subscription,  # an old subscription's invoice changes nothing
        )
    return None


def subscription_update(
    subscription: Mapping[str, Any], tiers: Tiers, *, ended: bool = False
) -> SubscriptionUpdate:
    """The account's state as a subscription object has it (an event's, or one read back)."""
    account_id = _text(_mapping(subscription.get("metadata")).get("account_id"))
    customer_id = _id(subscription.get("customer")) or None
    sub_id = _text(subscription.get("id"))
    status = _text(subscription.get("status"))
    # incomplete_expired is as final as canceled: the first payment never came (23 h).
    if ended or status in _ENDED:
        # Cancelling a paid plan falls back to the lowest tier, not to no access at all.
        return SubscriptionUpdate(
            account_id=account_id,
            customer_id=customer_id,
            tier=tiers.lowest.name,
            status="active",
            period_start_ms=0,
            period_end_ms=0,
            subscription_id="",
            only_if_subscription=sub_id,
        )
    if status == "incomplete":
        # Never paid yet (its first payment failed or awaits the customer): grant no paid
        # tier, and take none of the access the account already has. Only the customer is
        # linked; the subscription's `updated` to active carries the rest.
        return SubscriptionUpdate(account_id=account_id, customer_id=customer_id)
    item, tier = _tier_item(subscription, tiers)
    if tier is None:
        prices = ", ".join(_item_prices(subscription)) or "(none)"
        raise UnknownPrice(
            f"subscription {sub_id} is for price {prices}, which no tier sells;"
            " add it as a tier's stripe_price"
        )
    start = item.get("current_period_start", subscription.get("current_period_start"))
    end = item.get("current_period_end", subscription.get("current_period_end"))
    return SubscriptionUpdate(
        account_id=account_id,
        customer_id=customer_id,
        tier=tier.name,
        status=status or None,
        period_start_ms=start * 1000 if isinstance(start, int) else None,
        period_end_ms=end * 1000 if isinstance(end, int) else None,
        subscription_id=sub_id,
    )


def _checkout(session: Mapping[str, Any], tiers: Tiers) -> SubscriptionUpdate | None:
    if session.get("mode") != "subscription":
        return None
    account_id = _text(session.get("client_reference_id")) or _text(
        _mapping(session.get("metadata")).get("account_id")
    )
    subscription = session.get("subscription")
    if isinstance(subscription, Mapping):  # expanded: the whole state is here
        update = subscription_update(subscription, tiers)
        return dataclasses.replace(update, account_id=account_id or update.account_id)
    return SubscriptionUpdate(
        account_id=account_id,
        customer_id=_id(session.get("customer")) or None,
        subscription_id=_id(subscription) or None,
    )


def _invoice_subscription(invoice: Mapping[str, Any]) -> str:
    details = _mapping(_mapping(invoice.get("parent")).get("subscription_details"))
    return _id(details.get("subscription")) or _id(invoice.get("subscription"))


def _invoice_metadata(invoice: Mapping[str, Any]) -> Mapping[str, Any]:
    details = _mapping(_mapping(invoice.get("parent")).get("subscription_details"))
    if "metadata" in details:
        return _mapping(details["metadata"])
    return _mapping(_mapping(invoice.get("subscription_details")).get("metadata"))


def _tier_item(
    subscription: Mapping[str, Any], tiers: Tiers
) -> tuple[Mapping[str, Any], Tier | None]:
    """The item whose price is a tier's flat price, and that tier. A hybrid tier's
    subscription also carries the metered overage price (checkout adds it as a second item,
    in no promised order): that item sells no tier, and its period is the same."""
    for item in _items(subscription):
        tier = tiers.by_stripe_price(_item_price(item))
        if tier is not None:
            return item, tier
    return {}, None


def _item_prices(subscription: Mapping[str, Any]) -> list[str]:
    return [price for item in _items(subscription) if (price := _item_price(item))]


def _items(subscription: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    data = _mapping(subscription.get("items")).get("data")
    return [_mapping(item) for item in data] if isinstance(data, list) else []


def _item_price(item: Mapping[str, Any]) -> str:
    return _id(_mapping(item.get("price")).get("id"))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _id(value: Any) -> str:
    """A Stripe reference: an id string, or an expanded object carrying its id."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
