"""The deployable example API: what `tiergate serve` runs and `api/index.py` exposes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI

from ..config import Settings
from ..outcomes import Admitted
from ..wiring import Parts
from . import install, requires

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, parts: Parts | None = None) -> FastAPI:
    app = FastAPI(title="tiergate example API", version="0.1.0")

    @app.get("/v1/hello", summary="Hello, for every tier (cost 1)")
    async def hello(admitted: Annotated[Admitted, requires("free", cost=1)]) -> dict[str, Any]:
        return {"message": "hello", "tier": admitted.verdict.tier}

    @app.get(
        "/v1/pro/hello",
        summary="Hello, for pro and up",
        dependencies=[requires("pro", cost=1)],
    )
    async def pro_hello() -> dict[str, str]:
        return {"message": "hello, pro"}

    install(app, settings, parts=parts)
    return app
