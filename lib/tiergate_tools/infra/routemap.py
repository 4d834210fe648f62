"""The app's public routes as plain data, for `tiergate infra check`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from tiergate.errors import ConfigError
from tiergate.web.requirements import all_routes, requirement_of
from tiergate.wiring import Parts

from .routes import AppRoute

__all__ = ["app_routes"]


def app_routes(app: object, prefix: str) -> list[AppRoute]:
    """Every method and path the app answers, with the lowest tier rank that may call it.

    Routes under the gated prefix carry their requirement's tier; tiergate's own ungated
    routes (health, webhooks, warm-up) and the API docs have none. ConfigError when `app`
    is not a FastAPI app that tiergate gates.
    """
    parts = getattr(getattr(app, "state", None), "tiergate", None)
    if not isinstance(app, FastAPI) or not isinstance(parts, Parts):
        raise ConfigError(
            "not a FastAPI app gated by tiergate.install() (api/index.py's `app` is one)"
        )
    found: list[AppRoute] = []
    for route in all_routes(app.router.routes):
        path = getattr(route, "path", "")
        inner = getattr(route, "route", route)  # FastAPI 0.16x wraps routes in a context
        if not isinstance(inner, APIRoute) and path not in ("/docs", "/openapi.json"):
            continue  # redoc, the OAuth redirect: not worth a function of their own
        methods = sorted(getattr(route, "methods", None) or {"GET"})
        gated = path == prefix or path.startswith(prefix + "/")
        need = requirement_of(route)
        rank = parts.tiers.require(need.tier).rank if gated and need.tier else 0
        found += [AppRoute(m, path, rank) for m in methods if m != "HEAD"]
    return found
