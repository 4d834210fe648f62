"""Billing: Stripe webhooks in; Checkout, Billing Portal and meter events out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..meter.events import MeterDelivery, MeterEvent

__all__ = ["StripeApi"]


class StripeApi(Protocol):
    """The few Stripe calls tiergate makes. Each retries with backoff within a time budget,
    then raises `StripeUnavailable`; Stripe's refusals (bad price, no such customer) raise
    `StripeRejected`."""

    async def subscription(self, subscription_id: str) -> Mapping[str, Any]:
        """The subscription as Stripe has it now (for events of the same second)."""
        ...

    async def checkout_url(
        self,
        *,
        account_id: str,
        customer_id: str,
        price: str,
        success_url: str,
        cancel_url: str,
        metered_price: str | None = None,
    ) -> str:
        """A Checkout Session for a subscription to `price` (and `metered_price`, a tier's
        overage, as a second item without quantity), marked with the account id in
        `client_reference_id` and the subscription's metadata; "" customer_id: a new one."""
        ...

    async def portal_url(self, *, customer_id: str, return_url: str) -> str: ...

    async def send_meter_event(self, event: MeterEvent) -> MeterDelivery:
        """One Billing meter event; Stripe's refusal of a known identifier is "duplicate"."""
        ...

    async def aclose(self) -> None:
        """Close the connections (the container, or a command, is done)."""
        ...
