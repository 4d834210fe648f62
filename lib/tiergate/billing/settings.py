"""Billing's section of the settings: Stripe's keys and address, the webhook's secrets and
tolerances, where Checkout and the Billing Portal send the customer back."""

from __future__ import annotations

from pydantic import Field, SecretStr

from ..settings import Section, env_name

__all__ = ["BillingSettings"]


class BillingSettings(Section):
    event_retention_days: int = Field(
        default=35, ge=4, description="processed Stripe event ids are kept this long (TTL)"
    )
    webhook_tolerance: int = Field(
        default=300, ge=1, description="seconds a webhook signature may be stale or early"
    )
    stripe_api_base: str | None = Field(
        default=None, description="Stripe API address; set only for a local stand-in"
    )
    stripe_timeout: float = Field(default=5.0, gt=0, le=60, description="seconds per call")
    stripe_retry_budget: float = Field(
        default=8.0, gt=0, le=60, description="seconds, all retries of one Stripe call"
    )
    billing_return_url: str = Field(
        default="http://localhost:8000/",
        description="where Checkout and the Billing Portal send the customer back",
    )
    stripe_secret_key: SecretStr | None = Field(
        default=None, validation_alias=env_name("STRIPE_SECRET_KEY")
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=env_name("STRIPE_WEBHOOK_SECRET")
    )
