"""The deployable example API: what `tiergate serve` runs and `api/index.py` exposes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..gate import Gate
from ..outcomes import Admitted
from ..settings import Settings
from . import install, requires
from .problems import PROBLEM_JSON

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, gate: Gate | None = None) -> FastAPI:
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

    app.add_exception_handler(HTTPException, _http_problem)
    app.add_exception_handler(RequestValidationError, _validation_problem)
    install(app, settings, gate=gate)
    return app


async def _http_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    body = {"type": "about:blank", "title": str(exc.detail), "status": exc.status_code}
    return JSONResponse(body, exc.status_code, headers=exc.headers, media_type=PROBLEM_JSON)


async def _validation_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    body = {
        "type": "about:blank",
        "title": "Invalid request",
        "status": 422,
        "detail": "; ".join(str(e.get("msg", e)) for e in exc.errors()),
    }
    return JSONResponse(body, 422, media_type=PROBLEM_JSON)
