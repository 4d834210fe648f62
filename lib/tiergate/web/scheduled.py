"""The scheduled runs over HTTP and in an app's lifespan.

`GET /internal/scheduled` is what Vercel's cron calls (vercel.json): it sends
``Authorization: Bearer $CRON_SECRET``. Without the right secret the answer is a 401, without
CRON_SECRET configured a 503, and the jobs do not run in either case; a run answers 200 with
every job's report, or a 500 problem carrying them when a job failed (Vercel's cron logs show
the status; it does not retry, the next minute's run does).

`run_in_background` is the embedded default's schedule (`tiergate serve`): the runs go on in
the app's lifespan, beside the requests, never in their way.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..config import Settings
from ..telemetry import SERVICE_SCHEDULED
from ..wiring import Parts, build
from .handlers import install_problem_handlers
from .observability import observe
from .problems import problem
from .service import health_router

if TYPE_CHECKING:  # the schedule loads where runs are made, not with the API's routes
    from ..schedule.background import BackgroundRuns
    from ..schedule.runner import JobRunner

__all__ = [
    "SCHEDULED_PATH",
    "create_scheduled_app",
    "run_in_background",
    "scheduled_router",
    "serves_scheduled_route",
]

log = logging.getLogger("tiergate")

SCHEDULED_PATH = "/internal/scheduled"


def serves_scheduled_route(settings: Settings) -> bool:
    """On Vercel (its cron calls the route), or wherever CRON_SECRET is set (any scheduler
    that can send a bearer token). Elsewhere the route does not exist: on AWS EventBridge
    invokes the scheduled function itself, under `tiergate serve` the runs are in-process."""
    return settings.schedule.vercel or settings.gate.cron_secret is not None


def scheduled_router(runner: JobRunner, secret: SecretStr | None) -> APIRouter:
    router = APIRouter()
    expected = secret.get_secret_value().encode() if secret is not None else b""
    unconfigured_logged = False

    @router.get(SCHEDULED_PATH, include_in_schema=False)
    async def scheduled(request: Request) -> Response:
        nonlocal unconfigured_logged
        if not expected:
            if not unconfigured_logged:  # once: the cron calls every minute
                log.error("a scheduled run was asked for but CRON_SECRET is not set")
                unconfigured_logged = True
            return problem("scheduled-not-configured")
        if not _authorised(request.headers.get("authorization", ""), expected):
            refused = problem("invalid-cron-secret")
            refused.headers["WWW-Authenticate"] = 'Bearer realm="tiergate scheduled runs"'
            return refused
        report = await runner.run()
        if not report.ok:
            jobs = report.as_json()["jobs"]
            return problem("scheduled-run-failed", failed=", ".join(report.failed), jobs=jobs)
        return JSONResponse(report.as_json())

    return router


def _authorised(header: str, expected: bytes) -> bool:
    scheme, _, token = header.partition(" ")
    # compare_digest: the time taken says nothing about how much of the secret was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)


def run_in_background(app: FastAPI, runner: JobRunner, *, interval_s: float) -> BackgroundRuns:
    """Run the jobs every `interval_s` while `app` is being served (its lifespan), after
    whatever lifespan the app already has. Returns the runs, also ``app.state.tiergate_runs``."""
    from ..schedule.background import BackgroundRuns

    runs = BackgroundRuns(runner, interval_s=interval_s)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        async with inner(served) as state, runs.running():
            yield state

    app.router.lifespan_context = lifespan
    app.state.tiergate_runs = runs
    return runs


def create_scheduled_app(
    settings: Settings | None = None, *, parts: Parts | None = None
) -> FastAPI:
    """The scheduled runs' endpoint alone, deployable as its own function (a longer time
    limit than the API's): /internal/scheduled and /healthz."""
    from ..schedule.runner import job_runner

    settings = settings or Settings()
    parts = parts or build(settings)
    runner = job_runner(parts, settings)
    app = FastAPI(title="tiergate scheduled runs", docs_url=None, redoc_url=None, openapi_url=None)
    install_problem_handlers(app)
    app.include_router(health_router)
    app.include_router(scheduled_router(runner, settings.gate.cron_secret))
    observe(app, settings.observe, service=SERVICE_SCHEDULED, prefix=None)  # last: outermost
    app.state.tiergate = parts
    app.state.tiergate_runner = runner
    return app
