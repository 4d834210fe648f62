"""Every problem tiergate answers with, in one table: the reason's slug -> how it reads over HTTP.

The core names a reason and its facts (``outcomes.Denied``); web routes name theirs with
``problems.problem(slug, **facts)``. This table alone decides the status, the title, the
wording of the detail (a template over the facts), whether ``Retry-After`` is sent, and what
the OpenAPI document says, so the answers and their documentation cannot drift apart.

A limit's denial names the RateLimit policies it ran out of in a ``violated-policies`` member,
as the IETF RateLimit draft's "quota-exceeded" problem type does (an array of the policy
names the RateLimit fields use); the type stays tiergate's own, so that every answer is told
apart by one URN.

A configuration error (nothing configured, a tier or price the operator must add) is a 503
without ``Retry-After``: waiting a second will not fix it. Transient ones keep it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..idempotency import MAX_FINGERPRINTED_BODY, MAX_KEPT_RESPONSE

__all__ = ["ANSWERS", "PROBLEM_TYPE", "Answer", "gated_slugs"]

PROBLEM_TYPE = "urn:tiergate:problem:"

RetryAfter = int | Literal["wait"] | None  # fixed seconds; "wait": the limiter's own wait


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    title: str
    detail: str  # str.format template over the facts (web/problems.py says which there are)
    description: str  # for the OpenAPI document
    retry_after: RetryAfter = None
    extensions: tuple[str, ...] = ()  # facts that become members of the problem object
    gated: bool = False  # the gate may answer this on any gated route
    # The RateLimit policies this denial ran out of: its `violated-policies` member. "quota"
    # reads "quota" and "overage" for a tier with overage (both are used up then).
    policies: tuple[str, ...] = ()

    def render_detail(self, facts: Mapping[str, Any]) -> str:
        return self.detail.format_map(facts)


_CONFIG = "a configuration error: no Retry-After, retrying will not help"

ANSWERS: dict[str, Answer] = {
    # The gate, on any gated route.
    "missing-key": Answer(
        401,
        "Missing API key",
        "Send your API key in the X-API-Key header.",
        "No X-API-Key header",
        gated=True,
    ),
    "key-in-query": Answer(
        401,
        "API key in the query string",
        "Send the API key in the X-API-Key header, never in the URL: query strings are"
        " written to access logs, proxies and browser history. Treat a key sent this way"
        " as exposed and rotate it.",
        "An API key was sent in the URL's query string",
        gated=True,
    ),
    "invalid-key": Answer(
        401,
        "Invalid API key",
        "The X-API-Key header does not hold a valid API key; check it was copied whole.",
        "The X-API-Key is malformed or unknown",
        gated=True,
    ),
    "wrong-environment": Answer(
        401,
        "Wrong key environment",
        "This is a {env} key; this deployment accepts {expected} keys.",
        "A test key sent to production, or a live key to a test deployment",
        gated=True,
    ),
    "invalid-idempotency-key": Answer(
        400,
        "Invalid Idempotency-Key",
        "Idempotency-Key must be 1 to 255 printable ASCII characters.",
        "The Idempotency-Key header is too long or not printable ASCII",
        gated=True,
    ),
    "idempotency-key-reused": Answer(
        422,
        "Idempotency-Key reused",
        "This Idempotency-Key was first sent with a different request (method, route, cost"
        " or body); send a new key for a new request.",
        "The Idempotency-Key was used before on a different request",
        gated=True,
    ),
    "idempotency-in-flight": Answer(
        409,
        "Request in progress",
        "The first request with this Idempotency-Key has not answered yet; retry shortly.",
        "The first request with this Idempotency-Key is still being served",
        retry_after=1,
        gated=True,
    ),
    "idempotency-response-not-kept": Answer(
        422,
        "Response not kept",
        "The request with this Idempotency-Key was served and billed, but its response was"
        f" not kept (larger than {MAX_KEPT_RESPONSE:,} bytes, cut short, or past the"
        " account's budget for kept responses) and cannot be replayed; send a new key to run"
        " it again.",
        "The first response to this Idempotency-Key was too large to keep for replays",
        gated=True,
    ),
    "idempotency-body-too-large": Answer(
        413,
        "Body too large for Idempotency-Key",
        f"A request with an Idempotency-Key may carry at most {MAX_FINGERPRINTED_BODY:,}"
        " bytes of body.",
        "A request with an Idempotency-Key has a body over the bound its fingerprint reads",
        gated=True,
    ),
    "revoked-key": Answer(
        403,
        "API key revoked",
        "This API key was revoked, or has expired after a rotation; use a current key.",
        "The key was revoked, or expired after a rotation",
        gated=True,
    ),
    "billing-suspended": Answer(
        402,
        "Payment required",
        "Access is suspended: the subscription is {status_words}."
        " Update the payment method to restore it.",
        "The account's subscription is unpaid, canceled, paused or past due",
        extensions=("subscription_status",),
        gated=True,
    ),
    "tier-too-low": Answer(
        403,
        "Tier too low",
        "This route needs the {required_tier} tier or above; this key's tier is {tier}.",
        "The route needs a higher tier",
        extensions=("tier", "required_tier"),
        gated=True,
    ),
    "feature-not-in-tier": Answer(
        403,
        "Feature not in tier",
        "This route needs the {required_feature!r} feature, which the {tier} tier lacks.",
        "The route needs a feature the key's tier lacks",
        extensions=("tier", "required_feature"),
        gated=True,
    ),
    "burst-exceeded": Answer(
        429,
        "Too many requests",
        "The {tier} tier allows {burst} requests per second; retry in {retry_after} s.",
        "Burst limit reached; see Retry-After",
        retry_after="wait",
        gated=True,
        policies=("burst",),
    ),
    "quota-exhausted": Answer(
        429,
        "Quota exhausted",
        "{quota_used_up} for this billing period; it resets {resets_at}.",
        "The billing period's quota (and overage cap, for a tier with overage) is used up;"
        " `violated-policies` names the RateLimit policies; see Retry-After",
        retry_after="wait",
        extensions=("limit", "used", "resets_at"),
        gated=True,
        policies=("quota",),
    ),
    "tier-not-configured": Answer(
        503,
        "Tier not configured",
        "This account's tier or limits are not configured in this deployment; contact support.",
        f"The account's tier or limits are not configured ({_CONFIG})",
        gated=True,
    ),
    "limiter-unavailable": Answer(
        503,
        "Limiter unavailable",
        "The rate limiter could not be reached; retry shortly.",
        "The rate limiter could not be reached; see Retry-After",
        retry_after=1,
        gated=True,
    ),
    # Any route that reads a body.
    "payload-too-large": Answer(
        413,
        "Content too large",
        "This route accepts a body of at most {limit_bytes} bytes.",
        "The request body is larger than the route accepts",
    ),
    # Billing.
    "unknown-tier": Answer(
        400,
        "Unknown tier",
        "No tier {requested!r}; tiers: {known}.",
        "No such tier",
    ),
    "tier-not-for-sale": Answer(
        400,
        "Tier not for sale",
        "The {requested} tier has no Stripe price.",
        "The tier has no stripe_price",
    ),
    "already-subscribed": Answer(
        409,
        "Already subscribed",
        "This account has a subscription on the {current} tier; change plans in the"
        " Billing Portal (POST {portal}).",
        "The account has a subscription already; use the Billing Portal",
    ),
    "no-billing-account": Answer(
        409,
        "No billing account yet",
        "This account has never checked out; start with POST {checkout}.",
        "The account has never checked out",
    ),
    "billing-not-configured": Answer(
        503,
        "Billing not configured",
        "This deployment has no STRIPE_SECRET_KEY.",
        f"Billing is not configured ({_CONFIG})",
    ),
    "stripe-rejected": Answer(
        502,
        "Stripe refused the request",
        "{reason}",
        "Stripe refused the call (a price or customer Stripe does not know)",
    ),
    "stripe-unavailable": Answer(
        503,
        "Temporarily unavailable",
        "Stripe is unreachable; retry.",
        "Stripe could not be reached; see Retry-After",
        retry_after=5,
    ),
    "store-unavailable": Answer(
        503,
        "Temporarily unavailable",
        "The account store is unreachable; retry.",
        "The account store could not be reached; see Retry-After",
        retry_after=5,
    ),
    # Tiergate's own routes outside the API: the warm-up ping and Stripe's webhook.
    "invalid-warmup-secret": Answer(
        401,
        "Warm-up not authorised",
        "Warm-up pings carry Authorization: Bearer <TIERGATE_WARMUP_SECRET or CRON_SECRET>.",
        "The warm-up secret is missing or wrong",
    ),
    "invalid-cron-secret": Answer(
        401,
        "Scheduled run not authorised",
        "Scheduled runs are asked for with Authorization: Bearer <CRON_SECRET>.",
        "The cron secret is missing or wrong; nothing ran",
    ),
    "scheduled-not-configured": Answer(
        503,
        "Scheduled runs not configured",
        "CRON_SECRET is not set, so no caller can be told from Vercel's cron; nothing ran."
        " Set it in the project's environment.",
        f"CRON_SECRET is not set ({_CONFIG})",
    ),
    "scheduled-run-failed": Answer(
        500,
        "Scheduled run failed",
        "These scheduled jobs failed: {failed}. Each job's report is in `jobs`; the next run"
        " tries again.",
        "A scheduled job failed; the problem carries every job's report",
        extensions=("jobs",),
    ),
    "invalid-signature": Answer(
        400,
        "Invalid webhook signature",
        "{reason}",
        "The delivery is not provably from Stripe, or not recent",
    ),
    "webhooks-not-configured": Answer(
        503,
        "Webhooks not configured",
        "Set STRIPE_WEBHOOK_SECRET to receive Stripe events.",
        f"No webhook secret ({_CONFIG})",
    ),
    "unknown-price": Answer(
        503,
        "Price not in the tiers",
        # Not recorded: once the operator adds the price, Stripe's own retry applies it.
        "{reason}",
        f"The event is for a Stripe price no tier sells ({_CONFIG})",
    ),
    "event-not-applied": Answer(
        503,
        "Temporarily unavailable",
        # Either nothing was committed, or the registry committed and Redis missed the
        # write-through; the redelivery completes both, so one sentence fits.
        "The event did not complete; Stripe's retry will apply it exactly once.",
        "A store or Stripe failed; the redelivery applies the event exactly once",
        retry_after=5,
    ),
}


def gated_slugs() -> list[str]:
    """The reasons the gate may answer with on any gated route."""
    return [slug for slug, answer in ANSWERS.items() if answer.gated]
