"""Routes tiergate adds to an app: liveness, warm-up, and the caller's own usage.

`GET {prefix}/usage` reads the counters of the call that admitted it (tier, limit, used,
the period) and one more read for the units by route; it costs no quota.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from ..errors import StoreUnavailable
from ..outcomes import Admitted
from ..store import HotStore
from ..tiers import Tiers
from .openapi import problem_responses
from .problems import problem
from .ratelimit import overage_used
from .requirements import requires

__all__ = ["WARMUP_PATH", "UsageReport", "health_router", "usage_router", "warmup_router"]

WARMUP_PATH = "/internal/warmup"

health_router = APIRouter()


@health_router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


class UsageReport(BaseModel):
    """The caller's account this billing period, as the gate counts it."""

    account: str
    tier: str
    limit: int = Field(description="billable units the tier includes per period")
    used: int = Field(description="billable units counted this period, overage included")
    remaining: int = Field(description="units of `limit` left this period")
    overage: int = Field(description="units beyond `limit` this period (billed as overage)")
    overage_cap: int | None = Field(
        description="the most overage units admitted per period; null: the tier has no"
        " overage and stops at `limit`"
    )
    period_start: str = Field(json_schema_extra={"format": "date-time"})
    period_end: str = Field(
        json_schema_extra={"format": "date-time"}, description="when `used` starts again at 0"
    )
    routes: dict[str, int] = Field(
        description="billable units by route (its path template) this period"
    )
    burst_per_second: int


_USAGE_ANSWERS = problem_responses("limiter-unavailable")


def usage_router(prefix: str, store: HotStore, tiers: Tiers) -> APIRouter:
    router = APIRouter(prefix=prefix)

    @router.get(
        "/usage",
        summary="Your key's tier, quota and usage this billing period",
        response_model=None,
        responses={200: {"model": UsageReport}, **_USAGE_ANSWERS},
    )
    async def usage(admitted: Annotated[Admitted, requires(cost=0)]) -> UsageReport | Response:
        v = admitted.verdict
        if admitted.degraded:  # let in without the limiter: it has no counts to tell
            return problem("limiter-unavailable")
        try:
            routes = await store.routes(v.account_id, v.period_start_ms)
        except StoreUnavailable:
            return problem("limiter-unavailable")
        tier = tiers.get(v.tier)
        overage = tier is not None and tier.overage is not None
        return UsageReport(
            account=v.account_id,
            tier=v.tier,
            limit=v.limit,
            used=v.used,
            remaining=max(0, v.limit - v.used),
            overage=overage_used(v) if overage else 0,
            overage_cap=v.overage_cap if overage else None,
            period_start=_iso(v.period_start_ms),
            period_end=_iso(v.period_end_ms),
            routes=routes,
            burst_per_second=v.burst,
        )

    return router


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def warmup_router(secrets: Sequence[str]) -> APIRouter:
    """GET /internal/warmup with `Authorization: Bearer <secret>`: a scheduled ping (Vercel
    cron) that keeps an instance warm. Never gated, never counted."""
    router = APIRouter()
    expected = [s.encode() for s in secrets if s]

    @router.get(WARMUP_PATH, include_in_schema=False)
    async def warmup(request: Request) -> Response:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
        if given and any(hmac.compare_digest(given, s) for s in expected):
            return Response(status_code=204)
        return problem("invalid-warmup-secret")

    return router
