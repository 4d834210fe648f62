"""Every error is problem+json in an app that does nothing but call install(): what the
framework answers itself (404, 405, bodies that do not parse or validate, crashes) included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tiergate import Settings, install, requires
from tiergate.clock import FakeClock
from tiergate.web.webhooks import create_webhook_app
from tiergate.wiring import build

from .conftest import NOW_MS, PROBLEM_JSON


class Order(BaseModel):
    quantity: int


def plain_app() -> FastAPI:
    """A user's app: its own routes, no exception handlers of its own, then install()."""
    app = FastAPI()

    @app.get("/v1/items/{item_id}", dependencies=[requires()])
    async def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    @app.post("/v1/orders", dependencies=[requires()])
    async def order(body: Order) -> dict[str, int]:
        return {"quantity": body.quantity}

    @app.get("/v1/teapot", dependencies=[requires()])
    async def teapot() -> None:
        raise HTTPException(418, "short and stout")

    @app.get("/v1/crash", dependencies=[requires()])
    async def crash() -> None:
        raise RuntimeError("secret internals")

    @app.get("/public/missing")
    async def missing() -> None:
        raise HTTPException(404)

    return app


@pytest.fixture
async def setup() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    settings = Settings()
    parts = build(settings, clock=FakeClock(NOW_MS))
    app = plain_app()
    install(app, settings, parts=parts)
    key = (await parts.demo_keys())["free"]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client, key


def blank(response: httpx.Response, status: int) -> dict[str, Any]:
    """An about:blank problem: the status phrase as its title (RFC 9457 §4.2.1)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["type"] == "about:blank"
    assert body["title"] == HTTPStatus(status).phrase
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


@pytest.mark.parametrize("path", ["/nothing-here", "/v1/nothing-here", "/public/missing"])
async def test_404_is_a_problem(setup: tuple[httpx.AsyncClient, str], path: str) -> None:
    client, key = setup
    blank(await client.get(path, headers={"X-API-Key": key}), 404)


async def test_405_is_a_problem_that_keeps_allow(setup: tuple[httpx.AsyncClient, str]) -> None:
    client, key = setup
    response = await client.delete("/v1/orders", headers={"X-API-Key": key})
    blank(response, 405)
    assert response.headers["allow"] == "POST"


async def test_a_body_that_does_not_parse_is_a_400_problem(
    setup: tuple[httpx.AsyncClient, str],
) -> None:
    client, key = setup
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    response = await client.post("/v1/orders", content=b'{"quantity": "\xc3\x28"}', headers=headers)
    assert "parsing the body" in blank(response, 400)["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        ("GET", "/v1/items/abc", None, "path.item_id"),
        ("POST", "/v1/orders", b'{"quantity": "many"}', "body.quantity"),
        ("POST", "/v1/orders", b"{not json", "body"),
        ("POST", "/v1/orders", b"{}", "body.quantity"),
    ],
)
async def test_a_request_that_does_not_validate_is_a_422_problem(
    setup: tuple[httpx.AsyncClient, str], method: str, path: str, body: bytes | None, where: str
) -> None:
    client, key = setup
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    response = await client.request(method, path, content=body, headers=headers)
    problem = blank(response, 422)
    assert problem["errors"][0]["location"].startswith(where)
    assert problem["detail"].startswith(where)
    assert "input" not in problem["errors"][0]  # what was sent is not repeated


async def test_an_endpoints_http_exception_is_a_problem(
    setup: tuple[httpx.AsyncClient, str],
) -> None:
    client, key = setup
    response = await client.get("/v1/teapot", headers={"X-API-Key": key})
    assert blank(response, 418)["detail"] == "short and stout"


async def test_a_crash_is_a_500_problem_without_a_traceback(
    setup: tuple[httpx.AsyncClient, str],
) -> None:
    client, key = setup
    response = await client.get("/v1/crash", headers={"X-API-Key": key})
    blank(response, 500)
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


async def test_the_apps_own_handlers_are_kept() -> None:
    app = plain_app()

    async def mine(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"mine": True}, 404)

    app.add_exception_handler(HTTPException, mine)
    settings = Settings()
    install(app, settings, parts=build(settings, clock=FakeClock(NOW_MS)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/public/missing")).json() == {"mine": True}
        # FastAPI's HTTPException is the app's; the router's own 404 is still a problem.
        blank(await client.get("/nothing-here"), 404)


async def test_the_webhook_app_alone_answers_problems_too() -> None:
    settings = Settings()
    app = create_webhook_app(settings, parts=build(settings, clock=FakeClock(NOW_MS)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        blank(await client.get("/v1/hello"), 404)
        blank(await client.get("/webhooks/stripe"), 405)
