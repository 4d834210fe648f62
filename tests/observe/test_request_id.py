"""X-Request-Id on every answer (admitted, every denial, 404, a crash, webhooks, a key sent
in the query string), the same id in the problem body and in every log line of the request."""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tiergate import Settings, install, requires
from tiergate.clock import FakeClock
from tiergate.keys import generate_key, key_digest
from tiergate.registry import Account, KeyRecord
from tiergate.wiring import Parts, build

from .conftest import NOW_MS, read_stdout

TIERS = json.dumps(
    {
        "free": {"limit": 2, "price": 0, "burst": 1000},
        "pro": {"limit": 100, "price": 29, "burst": 1000, "features": ["exports"]},
        "solo": {"limit": 100, "price": 5, "burst": 1},
    }
)
GENERATED = re.compile(r"[0-9a-f]{32}")


def app_for(settings: Settings, parts: Parts) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/hello", dependencies=[requires()])
    async def hello() -> dict[str, str]:
        return {"message": "hello"}

    @app.get("/v1/pro", dependencies=[requires("pro")])
    async def pro() -> dict[str, str]:
        return {"message": "pro"}

    @app.get("/v1/export", dependencies=[requires(feature="exports")])
    async def export() -> dict[str, str]:
        return {"export": "done"}

    @app.get("/v1/crash", dependencies=[requires()])
    async def crash() -> None:
        raise RuntimeError("the endpoint blew up")

    install(app, settings, parts=parts)
    return app


class Api:
    def __init__(self, parts: Parts, client: httpx.AsyncClient) -> None:
        self.parts = parts
        self.client = client
        self._ids = itertools.count()

    async def key(self, tier: str = "free", *, revoked: bool = False, **account: Any) -> str:
        account_id = f"acct-{next(self._ids)}"
        await self.parts.registry.put_account(Account(account_id, tier=tier, **account))
        key = generate_key("test")
        record = KeyRecord(
            key_digest(key), account_id, NOW_MS, revoked_at_ms=NOW_MS - 1 if revoked else 0
        )
        await self.parts.registry.put_key(record)
        return key

    async def get(self, path: str, key: str | None = None, **headers: str) -> httpx.Response:
        sent = {name.replace("_", "-"): value for name, value in headers.items()}
        if key is not None:
            sent["X-API-Key"] = key
        return await self.client.get(path, headers=sent)


async def make_api(**settings: Any) -> tuple[Api, httpx.AsyncClient]:
    built = Settings(**{"tiers": TIERS, "access_log": "all", **settings})
    parts = build(built, clock=FakeClock(NOW_MS))
    transport = httpx.ASGITransport(app=app_for(built, parts), raise_app_exceptions=True)
    client = httpx.AsyncClient(transport=transport, base_url="http://test")
    return Api(parts, client), client


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    made, client = await make_api()
    async with client:
        yield made


async def spent(api: Api, tier: str, requests: int) -> str:
    """A key of `tier` that has just made `requests` admitted requests."""
    key = await api.key(tier)
    for _ in range(requests):
        assert (await api.get("/v1/hello", key)).status_code == 200
    return key


async def answer(api: Api, case: str) -> httpx.Response:
    """The request that gets the answer named `case`."""
    if case == "admitted":
        return await api.get("/v1/hello", await api.key())
    if case == "missing-key":
        return await api.get("/v1/hello")
    if case == "invalid-key":
        return await api.get("/v1/hello", "tg_test_" + "x" * 38)
    if case == "wrong-environment":
        return await api.get("/v1/hello", generate_key("live"))
    if case == "invalid-idempotency-key":
        return await api.get("/v1/hello", await api.key(), Idempotency_Key="x" * 300)
    if case == "revoked-key":
        return await api.get("/v1/hello", await api.key(revoked=True))
    if case == "billing-suspended":
        return await api.get("/v1/hello", await api.key("pro", status="unpaid"))
    if case == "tier-too-low":
        return await api.get("/v1/pro", await api.key("free"))
    if case == "feature-not-in-tier":
        return await api.get("/v1/export", await api.key("free"))
    if case == "burst-exceeded":
        return await api.get("/v1/hello", await spent(api, "solo", 1))  # burst 1
    if case == "quota-exhausted":
        return await api.get("/v1/hello", await spent(api, "free", 2))  # limit 2
    if case == "tier-not-configured":
        return await api.get("/v1/hello", await api.key("gold"))
    if case == "key-in-query":
        return await api.client.get("/v1/hello", params={"api_key": await api.key()})
    if case == "not-found":
        return await api.get("/nowhere")
    if case == "crash":
        return await api.get("/v1/crash", await api.key())
    if case == "healthz":
        return await api.get("/healthz")
    if case == "webhook":  # no webhook secret configured: 503
        return await api.client.post("/webhooks/stripe", content=b"{}")
    raise AssertionError(case)


STATUS = {
    "admitted": 200,
    "missing-key": 401,
    "invalid-key": 401,
    "wrong-environment": 401,
    "invalid-idempotency-key": 400,
    "revoked-key": 403,
    "billing-suspended": 402,
    "tier-too-low": 403,
    "feature-not-in-tier": 403,
    "burst-exceeded": 429,
    "quota-exhausted": 429,
    "tier-not-configured": 503,
    "key-in-query": 401,
    "not-found": 404,
    "crash": 500,
    "healthz": 200,
    "webhook": 503,
}


@pytest.mark.parametrize("case", list(STATUS))
async def test_every_answer_carries_a_request_id_and_its_lines_carry_the_same(
    api: Api, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    capsys.readouterr()
    response = await answer(api, case)
    assert response.status_code == STATUS[case], response.text
    request_id = response.headers["x-request-id"]
    assert GENERATED.fullmatch(request_id)
    if response.headers["content-type"] == "application/problem+json":
        assert response.json()["request_id"] == request_id
        assert int(response.headers["content-length"]) == len(response.content)
    lines = read_stdout(capsys).objects
    mine = [line for line in lines if line["request_id"] == request_id]
    assert mine, lines
    assert [line["status"] for line in mine if line.get("logger") == "tiergate.access"] == [
        STATUS[case]
    ]


async def test_a_limiter_that_is_down_answers_503_with_a_request_id(redis_down: str) -> None:
    made, client = await make_api(
        upstash_redis_rest_url=redis_down, upstash_redis_rest_token="t", redis_timeout=2
    )
    async with client:
        response = await made.get("/v1/hello", generate_key("test"))
    assert response.status_code == 503
    assert response.json()["type"].endswith("limiter-unavailable")
    assert response.json()["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("0b8f2c1e-5d1a-4c55-9a43-2f7e3c1d9b10", True, id="uuid"),
        pytest.param("JKJaXmPLvHcESHA=", True, id="api-gateway-shape"),
        pytest.param("a" * 128, True, id="longest"),
        pytest.param("a" * 129, False, id="too-long"),
        pytest.param("id with spaces", False, id="spaces"),
        pytest.param('"quoted"', False, id="quotes"),
        pytest.param("", False, id="empty"),
    ],
)
async def test_a_well_formed_incoming_request_id_is_kept(
    api: Api, capsys: pytest.CaptureFixture[str], sent: str, kept: bool
) -> None:
    capsys.readouterr()
    response = await api.get("/healthz", X_Request_Id=sent)
    answered = response.headers["x-request-id"]
    assert (answered == sent) is kept
    if not kept:
        assert GENERATED.fullmatch(answered)
    [access] = read_stdout(capsys).access()
    assert access["request_id"] == answered


async def test_the_app_cannot_answer_with_an_id_other_than_the_logged_one() -> None:
    """An X-Request-Id the app sets itself is replaced: one id per request, everywhere."""
    app = FastAPI()

    @app.get("/own")
    async def own() -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse({}, headers={"X-Request-Id": "the-apps-own"})

    install(app, Settings(), parts=build(Settings(), clock=FakeClock(NOW_MS)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/own", headers={"X-Request-Id": "sent-1"})
    assert response.headers.get_list("x-request-id") == ["sent-1"]


async def test_a_crash_is_one_json_error_line_with_the_traceback_and_a_problem(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = await api.get("/v1/crash", await api.key())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Internal Server Error"
    assert body["request_id"] == response.headers["x-request-id"]
    out = read_stdout(capsys)
    [error] = [line for line in out.logs if line["level"] == "ERROR"]
    assert error["request_id"] == body["request_id"]
    assert "RuntimeError: the endpoint blew up" in error["exception"]
    assert sum("Traceback" in line for line in out.text.splitlines()) == 1  # printed once


async def test_a_broken_stdout_never_breaks_an_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing logs and metrics can fail (a closed pipe); the answer goes out regardless."""
    key = await spent(api, "solo", 1)

    class Broken:
        def write(self, _: str) -> int:
            raise BrokenPipeError("stdout is gone")

        def flush(self) -> None:
            raise BrokenPipeError("stdout is gone")

    monkeypatch.setattr(sys, "stdout", Broken())
    monkeypatch.setattr("logging.raiseExceptions", False)  # as in production
    response = await api.get("/v1/hello", key)
    assert response.status_code == 429
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("access_log", "logged"),
    [("problems", ["/v1/nowhere"]), ("all", ["/healthz", "/v1/nowhere"]), ("off", [])],
)
async def test_which_requests_get_an_access_line(
    capsys: pytest.CaptureFixture[str], access_log: str, logged: list[str]
) -> None:
    """By default only problems: a line per success would cost more than the gate itself."""
    api, client = await make_api(access_log=access_log)
    async with client:
        capsys.readouterr()
        assert (await api.get("/healthz")).status_code == 200
        assert (await api.get("/v1/nowhere")).status_code in (401, 404)
    assert [line["path"] for line in read_stdout(capsys).access()] == logged


async def test_refusals_on_the_header_alone_are_counted_but_not_logged_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A flood of keyless or forged-key requests must not become a log line each: CloudWatch
    bills ingestion. The Denied metric still counts every one."""
    api, client = await make_api(access_log="problems")
    async with client:
        capsys.readouterr()
        assert (await api.get("/v1/hello")).status_code == 401
        assert (await api.get("/v1/hello", key="tg_test_forged")).status_code == 401
    out = read_stdout(capsys)
    assert out.access() == []
    assert sorted(doc["reason"] for doc in out.emf) == ["invalid-key", "missing-key"]


async def test_a_denial_is_one_line_not_two(capsys: pytest.CaptureFixture[str]) -> None:
    """A key's 429 flood is a line per request already (its access line names the key, the
    account and why); a second line from the gate would double what CloudWatch bills."""
    api, client = await make_api(access_log="problems")
    async with client:
        key = await spent(api, "solo", 1)
        capsys.readouterr()
        assert (await api.get("/v1/hello", key)).status_code == 429
    out = read_stdout(capsys)
    [line] = out.logs
    assert line["status"] == 429
    assert line["outcome"] in ("burst-exceeded", "quota-exhausted")  # solo's: both spent
    assert line["key_id"]
    assert line["account"]
