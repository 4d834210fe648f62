"""POST {prefix}/billing/checkout and /billing/portal: the caller's own way to pay.

Authenticated by the caller's API key like any gated route (cost 0). The account comes from
the key, never from the body, so nobody can start a checkout for someone else's account.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ..billing import StripeApi
from ..errors import StoreUnavailable, StripeRejected, StripeUnavailable
from ..gate import Gate
from ..outcomes import Admitted
from .problems import problem
from .requirements import requires

__all__ = ["billing_router"]


class CheckoutRequest(BaseModel):
    tier: str = Field(description="the tier to subscribe to", examples=["pro"])


class BillingUrl(BaseModel):
    url: str


def billing_router(prefix: str, gate: Gate, stripe: StripeApi | None, return_url: str) -> APIRouter:
    router = APIRouter(prefix=f"{prefix}/billing", tags=["billing"])
    success = f"{_base(return_url)}checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
    cancel = f"{_base(return_url)}checkout=canceled"

    @router.post(
        "/checkout", summary="A Stripe Checkout URL to subscribe to a tier", response_model=None
    )
    async def checkout(
        body: CheckoutRequest, admitted: Annotated[Admitted, requires(cost=0)]
    ) -> BillingUrl | Response:
        if stripe is None:
            return _not_configured()
        tier = gate.tiers.get(body.tier)
        if tier is None:
            known = ", ".join(gate.tiers)
            return problem(
                400, "unknown-tier", "Unknown tier", f"No tier {body.tier!r}; tiers: {known}."
            )
        if not tier.stripe_price:
            return problem(
                400, "tier-not-for-sale", "Tier not for sale", f"The {tier.name} tier has no price."
            )
        try:
            account = await gate.registry.get_account(admitted.verdict.account_id)
            if account is not None and account.subscription_id:
                return problem(
                    409,
                    "already-subscribed",
                    "Already subscribed",
                    f"This account has a subscription on the {account.tier} tier; change"
                    f" plans in the Billing Portal (POST {prefix}/billing/portal).",
                )
            url = await stripe.checkout_url(
                account_id=admitted.verdict.account_id,
                customer_id=account.customer_id if account else "",
                price=tier.stripe_price,
                success_url=success,
                cancel_url=cancel,
            )
        except (StoreUnavailable, StripeUnavailable, StripeRejected) as exc:
            return _unavailable(exc)
        return BillingUrl(url=url)

    @router.post(
        "/portal", summary="A Stripe Billing Portal URL to manage the plan", response_model=None
    )
    async def portal(admitted: Annotated[Admitted, requires(cost=0)]) -> BillingUrl | Response:
        if stripe is None:
            return _not_configured()
        try:
            account = await gate.registry.get_account(admitted.verdict.account_id)
            if account is None or not account.customer_id:
                return problem(
                    409,
                    "no-billing-account",
                    "No billing account yet",
                    "This account has never checked out;"
                    f" start with POST {prefix}/billing/checkout.",
                )
            url = await stripe.portal_url(customer_id=account.customer_id, return_url=return_url)
        except (StoreUnavailable, StripeUnavailable, StripeRejected) as exc:
            return _unavailable(exc)
        return BillingUrl(url=url)

    return router


def _not_configured() -> Response:
    return problem(
        503,
        "billing-not-configured",
        "Billing not configured",
        "This deployment has no STRIPE_SECRET_KEY.",
    )


def _unavailable(exc: Exception) -> Response:
    if isinstance(exc, StripeRejected):
        return problem(502, "stripe-rejected", "Stripe refused the request", str(exc))
    slug = "stripe-unavailable" if isinstance(exc, StripeUnavailable) else "store-unavailable"
    return problem(
        503, slug, "Temporarily unavailable", "Billing is unreachable; retry.", retry_after_s=5
    )


def _base(url: str) -> str:
    return url + ("&" if "?" in url else "?")
