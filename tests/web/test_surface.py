"""The gate's surface: admitted headers, /v1/usage, OpenAPI, and install-time checks."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, FastAPI

from tiergate import Admitted, Settings, install, requires
from tiergate.clock import FakeClock
from tiergate.errors import TierConfigError
from tiergate.wiring import Parts, build

from .conftest import NOVEMBER_S, NOW_MS, Harness, MakeHarness, assert_problem


async def test_admitted_response_headers(h: Harness) -> None:
    key = await h.add_account("free")
    policy = f'"burst";q=5;w=1, "quota";q=1000;w={NOVEMBER_S}'

    first = await h.call("/v1/hello", key)
    assert first.headers["RateLimit-Policy"] == policy
    assert first.headers["RateLimit"] == '"burst";r=4;t=1, "quota";r=999;t=1339200'

    h.clock.advance(100)
    second = await h.call("/v1/hello", key)
    assert second.headers["RateLimit-Policy"] == policy
    assert second.headers["RateLimit"] == '"burst";r=3;t=1, "quota";r=998;t=1339200'


async def test_usage_reports_the_callers_account(h: Harness) -> None:
    key = await h.add_account("free", account_id="acme")
    for _ in range(2):
        assert (await h.call("/v1/hello", key)).status_code == 200
    assert await h.usage(key) == {
        "account": "acme",
        "tier": "free",
        "limit": 1000,
        "used": 2,
        "remaining": 998,
        "overage": 0,
        "overage_cap": None,  # the free tier has no overage: it stops at its limit
        "period_start": "2026-11-01T00:00:00+00:00",
        "period_end": "2026-12-01T00:00:00+00:00",
        "routes": {"/v1/hello": 2},
        "burst_per_second": 5,
    }


async def test_usage_costs_nothing(h: Harness) -> None:
    key = await h.add_account("free")
    for _ in range(3):
        assert (await h.usage(key))["used"] == 0
    response = await h.call("/v1/usage", key)
    assert response.headers["RateLimit"].endswith('"quota";r=1000;t=1339200')


async def test_usage_needs_a_key(h: Harness) -> None:
    assert_problem(await h.call("/v1/usage"), 401, "missing-key")


async def test_openapi_declares_the_api_key(h: Harness) -> None:
    schema = (await h.call("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    hello = schema["paths"]["/v1/hello"]["get"]
    assert hello["security"] == [{"ApiKeyAuth": []}]
    for status in ("401", "402", "403", "429", "503"):
        assert "application/problem+json" in hello["responses"][status]["content"]
    assert schema["paths"]["/v1/usage"]["get"]["security"] == [{"ApiKeyAuth": []}]
    assert "/healthz" not in schema["paths"]


async def _plain_endpoint() -> None:
    return None


async def _reading_endpoint(admitted: Annotated[Admitted, requires("platinum")]) -> None:
    return None


@pytest.mark.parametrize("how", ["dependencies", "parameter", "included-router"])
def test_install_rejects_an_unknown_tier(how: str) -> None:
    settings = Settings()
    parts = build(settings, clock=FakeClock(NOW_MS))
    app = FastAPI()
    if how == "dependencies":
        app.get("/v1/x", dependencies=[requires("platinum")])(_plain_endpoint)
    elif how == "parameter":
        app.get("/v1/x")(_reading_endpoint)
    else:
        router = APIRouter(prefix="/v1")
        router.get("/x", dependencies=[requires("platinum")])(_plain_endpoint)
        app.include_router(router)
    with pytest.raises(TierConfigError, match="platinum"):
        install(app, settings, parts=parts)


def _app_with_router(settings: Settings, *, parts: Parts) -> FastAPI:
    """Routes declared on APIRouters, as larger apps do, then included."""
    app = FastAPI()
    reports = APIRouter(prefix="/v1/reports")

    @reports.get("/monthly", dependencies=[requires("pro", cost=5)])
    async def monthly() -> dict[str, str]:
        return {"report": "monthly"}

    admin = APIRouter()

    @admin.get("/v1/admin/ping")
    async def ping() -> dict[str, str]:
        return {"admin": "pong"}

    app.include_router(reports)
    app.include_router(admin, dependencies=[requires("enterprise")])
    install(app, settings, parts=parts)
    return app


@pytest.fixture
async def hr(make_harness: MakeHarness) -> Harness:
    return await make_harness(app_factory=_app_with_router)


async def test_included_router_route_enforces_its_tier(hr: Harness) -> None:
    free = await hr.add_account("free")
    body = assert_problem(await hr.call("/v1/reports/monthly", free), 403, "tier-too-low")
    assert body["required_tier"] == "pro"


async def test_included_router_route_charges_its_cost(hr: Harness) -> None:
    pro = await hr.add_account("pro")
    response = await hr.call("/v1/reports/monthly", pro)
    assert response.status_code == 200
    assert response.headers["RateLimit"].endswith('"quota";r=49995;t=1339200')


async def test_include_router_dependencies_enforce_the_tier(hr: Harness) -> None:
    pro = await hr.add_account("pro")
    enterprise = await hr.add_account("enterprise")
    body = assert_problem(await hr.call("/v1/admin/ping", pro), 403, "tier-too-low")
    assert body["required_tier"] == "enterprise"
    assert (await hr.call("/v1/admin/ping", enterprise)).status_code == 200


def test_a_tier_the_limiter_cannot_count_stops_start_up() -> None:
    tiers = '{"free": {"limit": 10, "price": 0, "burst": 1000001}}'
    with pytest.raises(TierConfigError, match="tier 'free': burst"):
        build(Settings(tiers=tiers), clock=FakeClock(NOW_MS))


@pytest.mark.parametrize("burst", [0, 2_000_000])
async def test_an_override_the_limiter_cannot_count_is_a_503_not_a_500(
    h: Harness, burst: int
) -> None:
    key = await h.add_account("free", burst_override=burst)
    response = await h.call("/v1/hello", key)
    assert_problem(response, 503, "tier-not-configured")
    assert "Retry-After" not in response.headers
