"""Routes tiergate adds to an app: liveness, warm-up, and the caller's own usage."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response

from ..outcomes import Admitted
from .problems import problem
from .requirements import requires

__all__ = ["WARMUP_PATH", "health_router", "usage_router", "warmup_router"]

WARMUP_PATH = "/internal/warmup"

health_router = APIRouter()


@health_router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def usage_router(prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix)

    @router.get("/usage", summary="Your key's tier, quota and usage this billing period")
    async def usage(admitted: Annotated[Admitted, requires(cost=0)]) -> dict[str, Any]:
        v = admitted.verdict
        return {
            "account": v.account_id,
            "tier": v.tier,
            "limit": v.limit,
            "used": v.used,
            "remaining": max(0, v.limit - v.used),
            "period_start": _iso(v.period_start_ms),
            "period_end": _iso(v.period_end_ms),
            "burst_per_second": v.burst,
        }

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
