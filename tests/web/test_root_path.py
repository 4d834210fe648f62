"""The gate decides on the path Starlette routes on, whatever the ASGI root path: an app
behind uvicorn's --root-path, or mounted inside another app, is gated as one at the root."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp

from tiergate import install, requires
from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.wiring import Parts, build

from .conftest import NOW_MS

Wrap = Callable[[FastAPI], tuple[ASGIApp, str, str]]  # app -> (served app, root_path, URL prefix)


def behind_root_path(app: FastAPI) -> tuple[ASGIApp, str, str]:
    return app, "/api", "/api"  # uvicorn --root-path /api: scope path keeps /api


def mounted(app: FastAPI) -> tuple[ASGIApp, str, str]:
    outer = FastAPI()
    outer.mount("/inner", app)
    return outer, "", "/inner"


def nested_both(app: FastAPI) -> tuple[ASGIApp, str, str]:
    outer = FastAPI()
    outer.mount("/inner", app)
    return outer, "/api", "/api/inner"


def _app(settings: Settings, parts: Parts) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/open")  # under the prefix without requires(): every tier, cost 1, with a key
    async def open_route() -> dict[str, str]:
        return {"open": "yes"}

    @app.get("/v1/pro/report", dependencies=[requires("pro", cost=2)])
    async def report() -> dict[str, str]:
        return {"report": "yes"}

    install(app, settings, parts=parts)
    return app


@pytest.fixture(params=[behind_root_path, mounted, nested_both], ids=lambda f: f.__name__)
async def served(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[httpx.AsyncClient, Parts, str]]:
    settings = Settings()
    parts = build(settings, clock=FakeClock(NOW_MS))
    wrap: Wrap = request.param
    app, root_path, prefix = wrap(_app(settings, parts))
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, parts, prefix


async def _key(parts: Parts, tier: str) -> str:
    return (await parts.admin().create_key(f"acct-{tier}", tier=tier)).key


async def test_a_route_without_requires_is_not_served_without_a_key(
    served: tuple[httpx.AsyncClient, Parts, str],
) -> None:
    client, parts, prefix = served
    refused = await client.get(f"{prefix}/v1/open")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    key = await _key(parts, "free")
    ok = await client.get(f"{prefix}/v1/open", headers={"X-API-Key": key})
    assert (ok.status_code, ok.json()) == (200, {"open": "yes"})
    assert "RateLimit" in ok.headers


async def test_a_requires_route_is_gated_not_a_500(
    served: tuple[httpx.AsyncClient, Parts, str],
) -> None:
    client, parts, prefix = served
    assert (await client.get(f"{prefix}/v1/pro/report")).status_code == 401
    free, pro = await _key(parts, "free"), await _key(parts, "pro")
    assert (
        await client.get(f"{prefix}/v1/pro/report", headers={"X-API-Key": free})
    ).status_code == 403
    ok = await client.get(f"{prefix}/v1/pro/report", headers={"X-API-Key": pro})
    assert (ok.status_code, ok.json()) == (200, {"report": "yes"})


async def test_a_key_in_the_query_is_refused_under_a_root_path(
    served: tuple[httpx.AsyncClient, Parts, str],
) -> None:
    client, parts, prefix = served
    key = await _key(parts, "free")
    refused = await client.get(f"{prefix}/v1/open", params={"api_key": key})
    assert refused.status_code == 401
