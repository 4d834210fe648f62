"""Routes tiergate adds to an app: liveness, and the caller's own usage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter

from ..outcomes import Admitted
from .requirements import requires

__all__ = ["health_router", "usage_router"]

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
