"""What the gate answers: admitted, or denied with a problem (RFC 9457) that says why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .decision import Code, Verdict
from .idempotency import MAX_FINGERPRINTED_BODY, MAX_KEPT_RESPONSE, ResponseCopy
from .ratelimit import retry_after_s

if TYPE_CHECKING:
    from .gate import Requirement

__all__ = ["Admitted", "Denied", "denial"]

PROBLEM_TYPE = "urn:tiergate:problem:"


@dataclass(frozen=True, slots=True)
class Admitted:
    verdict: Verdict
    cost: int
    idempotency_key: str = ""  # its hash, when the request held one
    now_ms: int = 0
    # Why it was let in without a limiter answer ("fail-open": the store was unavailable and
    # the tier's on_error allows); "" for a decided admission.
    degraded: str = ""
    request_id: str = ""  # the gate's id for this request; it owns the key's record
    replay: ResponseCopy | None = None  # REPLAY: the key's first response, to send again

    @property
    def charged(self) -> bool:
        return not self.degraded and self.verdict.code == Code.ADMIT and self.cost > 0

    @property
    def replayed(self) -> bool:
        return self.verdict.code == Code.REPLAY


@dataclass(frozen=True, slots=True)
class Denied:
    status: int
    slug: str
    title: str
    detail: str
    retry_after_s: int | None = None
    verdict: Verdict | None = None
    now_ms: int = 0
    extensions: dict[str, Any] = field(default_factory=dict)

    def problem(self) -> dict[str, Any]:
        return {
            "type": PROBLEM_TYPE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extensions,
        }


def denial(
    slug: str,
    *,
    verdict: Verdict | None = None,
    need: Requirement | None = None,
    now_ms: int = 0,
    **context: str,
) -> Denied:
    v = verdict or Verdict(Code.UNKNOWN_KEY)
    retry = retry_after_s(v.retry_after_ms) if v.retry_after_ms else None
    extensions: dict[str, Any] = {}
    if slug == "missing-key":
        status, title, detail = 401, "Missing API key", "Send your API key in the X-API-Key header."
    elif slug == "invalid-key":
        status, title = 401, "Invalid API key"
        detail = "The X-API-Key header does not hold a valid API key; check it was copied whole."
    elif slug == "wrong-environment":
        status, title = 401, "Wrong key environment"
        detail = (
            f"This is a {context['env']} key; this deployment accepts {context['expected']} keys."
        )
    elif slug == "invalid-idempotency-key":
        status, title = 400, "Invalid Idempotency-Key"
        detail = "Idempotency-Key must be 1 to 255 printable ASCII characters."
    elif slug == "idempotency-body-too-large":
        status, title = 413, "Body too large for Idempotency-Key"
        detail = (
            f"A request with an Idempotency-Key may carry at most {MAX_FINGERPRINTED_BODY:,}"
            " bytes of body."
        )
    elif slug == "idempotency-key-reused":
        status, title = 422, "Idempotency-Key already used"
        detail = (
            "This Idempotency-Key was used for a different request (method, path, cost or"
            " body); send a new key for a new request."
        )
    elif slug == "idempotency-in-flight":
        status, title, retry = 409, "Request with this Idempotency-Key in flight", 1
        detail = "The first request with this Idempotency-Key is still being served; retry."
    elif slug == "idempotency-response-not-kept":
        status, title = 422, "Response not kept"
        detail = (
            "The request with this Idempotency-Key was served and billed, but its response was"
            f" larger than {MAX_KEPT_RESPONSE:,} bytes and cannot be replayed; send a new key"
            " to run it again."
        )
    elif slug == "revoked-key":
        status, title = 403, "API key revoked"
        detail = "This API key was revoked, or has expired after a rotation; use a current key."
    elif slug == "billing-suspended":
        status, title = 402, "Payment required"
        detail = (
            f"Access is suspended: the subscription is {v.status.replace('_', ' ')}."
            " Update the payment method to restore it."
        )
        extensions = {"subscription_status": v.status}
    elif slug == "tier-too-low":
        required = need.tier if need else ""
        status, title = 403, "Tier too low"
        detail = f"This route needs the {required} tier or above; this key's tier is {v.tier}."
        extensions = {"tier": v.tier, "required_tier": required}
    elif slug == "feature-not-in-tier":
        feature = need.feature if need else ""
        status, title = 403, "Feature not in tier"
        detail = f"This route needs the {feature!r} feature, which the {v.tier} tier lacks."
        extensions = {"tier": v.tier, "required_feature": feature}
    elif slug == "burst-exceeded":
        status, title = 429, "Too many requests"
        detail = f"The {v.tier} tier allows {v.burst} requests per second; retry in {retry} s."
    elif slug == "quota-exhausted":
        resets = datetime.fromtimestamp(v.period_end_ms / 1000, tz=UTC).isoformat()
        status, title = 429, "Quota exhausted"
        detail = f"The quota of {v.limit} for this billing period is used up; it resets {resets}."
        extensions = {"limit": v.limit, "used": v.used, "resets_at": resets}
    elif slug == "tier-not-configured":
        status, title = 503, "Tier not configured"
        detail = "This key's account is on a tier this deployment does not define; contact support."
    elif slug == "limiter-unavailable":
        status, title, retry = 503, "Limiter unavailable", 1
        detail = "The rate limiter could not be reached; retry shortly."
    else:  # pragma: no cover - every slug the gate uses is listed above
        raise ValueError(f"unknown denial {slug!r}")
    return Denied(status, slug, title, detail, retry, verdict, now_ms, extensions)
