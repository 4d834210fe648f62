"""POST {prefix}/billing/checkout and /billing/portal: the caller's own way to pay.

Authenticated by the caller's API key like any gated route (cost 0). The account comes from
the key, never from the body, so nobody can start a checkout for someone else's account.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from ..billing import StripeApi
from ..errors import StoreUnavailable, StripeRejected, StripeUnavailable
from ..outcomes import Admitted
from ..registry import Registry
from ..tiers import Tiers
from .bodies import bounded_route
from .openapi import problem_responses
from .problems import problem
from .requirements import requires

__all__ = ["CHECKOUT_BODY_LIMIT", "billing_router"]

# {"tier": "<at most 64 characters>"} is under 100 bytes; a few KiB leaves room for a
# client's extra fields without letting a large body be read into memory.
CHECKOUT_BODY_LIMIT = 4096


class CheckoutRequest(BaseModel):
    tier: str = Field(
        max_length=64, description="the tier to subscribe to (one with a Stripe price)"
    )


class BillingUrl(BaseModel):
    url: str


_UNAVAILABLE = ("stripe-rejected", "stripe-unavailable", "store-unavailable")
_CHECKOUT_ANSWERS = problem_responses(
    "unknown-tier",
    "tier-not-for-sale",
    "already-subscribed",
    "payload-too-large",
    "billing-not-configured",
    *_UNAVAILABLE,
)
_PORTAL_ANSWERS = problem_responses(
    "no-billing-account", "payload-too-large", "billing-not-configured", *_UNAVAILABLE
)


def billing_router(
    prefix: str, tiers: Tiers, registry: Registry, stripe: StripeApi | None, return_url: str
) -> APIRouter:
    router = APIRouter(
        prefix=f"{prefix}/billing",
        tags=["billing"],
        route_class=bounded_route(CHECKOUT_BODY_LIMIT),
    )
    success = f"{_base(return_url)}checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
    cancel = f"{_base(return_url)}checkout=canceled"
    for_sale = [t.name for t in tiers.values() if t.stripe_price]

    async def checkout(
        body: CheckoutRequest, admitted: Annotated[Admitted, requires(cost=0)]
    ) -> BillingUrl | Response:
        if stripe is None:
            return problem("billing-not-configured")
        tier = tiers.get(body.tier)
        if tier is None:
            return problem("unknown-tier", requested=body.tier, known=", ".join(tiers))
        if not tier.stripe_price:
            return problem("tier-not-for-sale", requested=tier.name)
        try:
            account = await registry.get_account(admitted.verdict.account_id)
            if account is not None and account.subscription_id:
                return problem(
                    "already-subscribed", current=account.tier, portal=f"{prefix}/billing/portal"
                )
            url = await stripe.checkout_url(
                account_id=admitted.verdict.account_id,
                customer_id=account.customer_id if account else "",
                price=tier.stripe_price,
                metered_price=tier.overage.stripe_price if tier.overage else None,
                success_url=success,
                cancel_url=cancel,
            )
        except (StoreUnavailable, StripeUnavailable, StripeRejected) as exc:
            return _unavailable(exc)
        return BillingUrl(url=url)

    # The body's schema lists this deployment's tiers for sale, known only now.
    checkout.__annotations__["body"] = _for_sale(for_sale)
    router.post(
        "/checkout",
        summary="A Stripe Checkout URL to subscribe to a tier",
        response_model=None,
        responses={200: {"model": BillingUrl}, **_CHECKOUT_ANSWERS},
    )(checkout)

    @router.post(
        "/portal",
        summary="A Stripe Billing Portal URL to manage the plan",
        response_model=None,
        responses={200: {"model": BillingUrl}, **_PORTAL_ANSWERS},
    )
    async def portal(admitted: Annotated[Admitted, requires(cost=0)]) -> BillingUrl | Response:
        if stripe is None:
            return problem("billing-not-configured")
        try:
            account = await registry.get_account(admitted.verdict.account_id)
            if account is None or not account.customer_id:
                return problem("no-billing-account", checkout=f"{prefix}/billing/checkout")
            url = await stripe.portal_url(customer_id=account.customer_id, return_url=return_url)
        except (StoreUnavailable, StripeUnavailable, StripeRejected) as exc:
            return _unavailable(exc)
        return BillingUrl(url=url)

    return router


def _for_sale(names: list[str]) -> type[CheckoutRequest]:
    """CheckoutRequest whose schema gives `tier` an enum of `names` (none: any string)."""
    if not names:
        return CheckoutRequest

    def add_enum(schema: dict[str, Any]) -> None:
        schema["properties"]["tier"]["enum"] = list(names)

    # Named as the base, so that the document's schema is called CheckoutRequest.
    config = ConfigDict(json_schema_extra=add_enum)
    return type("CheckoutRequest", (CheckoutRequest,), {"model_config": config})


def _unavailable(exc: Exception) -> Response:
    if isinstance(exc, StripeRejected):
        return problem("stripe-rejected", reason=str(exc))
    return problem(
        "stripe-unavailable" if isinstance(exc, StripeUnavailable) else "store-unavailable"
    )


def _base(url: str) -> str:
    return url + ("&" if "?" in url else "?")
