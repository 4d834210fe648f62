"""The web layer: the only part of tiergate that imports FastAPI."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.routing import BaseRoute

from ..config import Settings
from ..telemetry import SERVICE_API
from ..tiers import Tiers
from ..wiring import Parts, build
from .billing import billing_router
from .handlers import install_problem_handlers
from .middleware import GateMiddleware
from .observability import observe
from .openapi import declare_api
from .requirements import all_routes, requirement_of, requires
from .scheduled import scheduled_router, serves_scheduled_route
from .service import health_router, usage_router, warmup_router
from .webhooks import webhook_router

__all__ = ["install", "requires"]


def install(app: FastAPI, settings: Settings | None = None, *, parts: Parts | None = None) -> Parts:
    """Gate every route of `app` under the prefix (default /v1) and add tiergate's routes:
    /healthz, {prefix}/usage, {prefix}/billing/checkout and /portal, /webhooks/stripe, and
    on Vercel or with CRON_SECRET set /internal/scheduled (the scheduled runs' cron).

    Settings default to the environment's; pass `parts` (wiring.build) to share parts built
    elsewhere: the settings then still decide the routes (prefix, webhook secrets, return
    URL), the parts the services (stores, Stripe). Returns the parts, also kept as
    ``app.state.tiergate``.
    """
    settings = settings or Settings()
    parts = parts or build(settings)
    gate = settings.gate
    prefix = gate.prefix
    app.include_router(health_router)
    app.include_router(warmup_router(_secrets(gate.warmup_secret, gate.cron_secret)))
    app.include_router(usage_router(prefix, parts.store, parts.tiers))
    app.include_router(
        billing_router(
            prefix, parts.tiers, parts.registry, parts.stripe, settings.billing.billing_return_url
        )
    )
    app.include_router(webhook_router(parts.webhook_processor(settings.billing)))
    if serves_scheduled_route(settings):  # Vercel's cron, or a scheduler with CRON_SECRET
        from ..schedule.runner import job_runner  # elsewhere a request never loads the schedule

        runner = job_runner(parts, settings, service=SERVICE_API)
        app.include_router(scheduled_router(runner, gate.cron_secret))
    _check_requirements(app.router.routes, parts.tiers)
    warmup = gate.warmup_secret.get_secret_value() if gate.warmup_secret else None
    app.add_middleware(
        GateMiddleware, gate=parts.gate, router=app.router, prefix=prefix, warmup_secret=warmup
    )
    declare_api(app, prefix)
    install_problem_handlers(app)
    observe(app, settings.observe, service=SERVICE_API, prefix=prefix)  # last: outermost
    app.state.tiergate = parts
    return parts


def _secrets(*secrets: SecretStr | None) -> list[str]:
    return [s.get_secret_value() for s in secrets if s is not None]


def _check_requirements(routes: list[BaseRoute], tiers: Tiers) -> None:
    """Fail at start-up, not on a customer's request, when a route names an unknown tier."""
    for route in all_routes(routes):
        need = requirement_of(route)
        if need.tier is not None:
            tiers.require(need.tier)
