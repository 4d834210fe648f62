"""The route table: the route Starlette would pick, with its requirement, found once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.responses import PlainTextResponse

from tiergate import requires
from tiergate.gate import Requirement
from tiergate.web.routing import RouteTable


def _scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/items/{item_id}", dependencies=[requires("pro", cost=3)])
    async def item(item_id: str) -> str:
        return item_id

    @app.get("/v1/items/special")  # shadowed: the parameterised route above comes first
    async def special() -> str:
        return "never"

    @app.get("/v1/hello", dependencies=[requires(cost=2)])
    async def hello() -> str:
        return "hello"

    nested = APIRouter(prefix="/v1/reports", dependencies=[requires("pro", cost=5)])

    @nested.post("/monthly")
    async def monthly() -> str:
        return "report"

    app.include_router(nested)
    return app


def test_a_static_path_is_found_with_its_requirement() -> None:
    found = RouteTable(_app().router, "/v1").gated(_scope("/v1/hello"))
    assert found is not None
    assert (found.template, found.requirement) == ("/v1/hello", Requirement(cost=2))


def test_the_first_full_match_wins_as_in_starlette() -> None:
    found = RouteTable(_app().router, "/v1").gated(_scope("/v1/items/special"))
    assert found is not None
    assert found.template == "/v1/items/{item_id}"
    assert found.requirement == Requirement(tier="pro", cost=3)


def test_an_included_routers_dependencies_count() -> None:
    found = RouteTable(_app().router, "/v1").gated(_scope("/v1/reports/monthly", "POST"))
    assert found is not None
    assert found.requirement == Requirement(tier="pro", cost=5)


def test_what_no_route_serves_is_not_gated() -> None:
    table = RouteTable(_app().router, "/v1")
    assert table.gated(_scope("/v1/nowhere")) is None  # 404
    assert table.gated(_scope("/v1/hello", "DELETE")) is None  # 405
    assert table.gated(_scope("/v1/hello", "OPTIONS")) is None  # CORS preflight
    assert table.gated(_scope("/elsewhere")) is None  # outside the prefix


def test_a_route_added_after_the_table_was_built_is_still_gated() -> None:
    app = _app()
    table = RouteTable(app.router, "/v1")

    @app.get("/v1/late", dependencies=[requires("pro", cost=7)])
    async def late() -> str:
        return "late"

    found = table.gated(_scope("/v1/late"))
    assert found is not None
    assert found.requirement == Requirement(tier="pro", cost=7)


def test_a_mount_under_the_prefix_is_gated_at_the_default_cost() -> None:
    app = _app()
    inner = FastAPI()
    inner.add_api_route("/ping", lambda: PlainTextResponse("pong"))
    app.mount("/v1/legacy", inner)
    found = RouteTable(app.router, "/v1").gated(_scope("/v1/legacy/ping"))
    assert found is not None
    assert found.requirement == Requirement()
