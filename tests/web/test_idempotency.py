"""Idempotency-Key, on both hot stores: however many replays, the endpoint runs once per key
and the quota is never exceeded; a replay gets the first response again, uncharged."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Request, Response

from tiergate import Settings, install, requires
from tiergate.idempotency import MAX_FINGERPRINTED_BODY, MAX_KEPT_RESPONSE
from tiergate.keys import generate_key
from tiergate.wiring import Parts
from tiergate_tools.localredis.background import UpstashEndpoint

from ..support.streams import Chunks
from .conftest import Harness, MakeHarness, assert_problem, tiers_json

QUOTA_3 = tiers_json(
    free={"limit": 3, "price": 0, "burst": 1000},
    pro={"limit": 1000, "price": 29, "burst": 1000, "on_error": "allow"},
)
_namespaces = itertools.count()


def counting_app(settings: Settings, *, parts: Parts) -> FastAPI:
    """Routes that count how often they really run: app.state.runs by route, app.state.served
    by Idempotency-Key for the billable answers."""
    app = FastAPI()
    runs: Counter[str] = Counter()
    served: Counter[str] = Counter()
    app.state.runs = runs
    app.state.served = served
    app.state.entered = asyncio.Event()
    app.state.release = asyncio.Event()

    @app.get("/v1/hello", dependencies=[requires()])
    async def hello(request: Request) -> dict[str, int]:
        runs["hello"] += 1
        served[request.headers.get("idempotency-key", "")] += 1
        return {"run": runs["hello"]}

    @app.post("/v1/orders", dependencies=[requires()], status_code=201)
    async def order(request: Request, response: Response) -> dict[str, Any]:
        runs["orders"] += 1
        response.headers["Location"] = f"/v1/orders/{runs['orders']}"
        return {"order": runs["orders"], "echo": (await request.body()).decode()}

    @app.get("/v1/costly", dependencies=[requires(cost=2)])
    async def costly(request: Request) -> dict[str, str]:
        runs["costly"] += 1
        served[request.headers.get("idempotency-key", "")] += 1
        return {"costly": "yes"}

    @app.get("/v1/big", dependencies=[requires()])
    async def big() -> Response:
        runs["big"] += 1
        return Response(b"x" * (MAX_KEPT_RESPONSE + 1), media_type="application/octet-stream")

    @app.get("/v1/slow", dependencies=[requires()])
    async def slow() -> dict[str, str]:
        runs["slow"] += 1
        app.state.entered.set()
        await app.state.release.wait()
        return {"slow": "done"}

    @app.get("/v1/fails-once", dependencies=[requires()])
    async def fails_once(request: Request) -> dict[str, str]:
        runs["fails-once"] += 1
        if runs["fails-once"] == 1:
            raise HTTPException(status_code=503, detail="try again")
        served[request.headers.get("idempotency-key", "")] += 1
        return {"second": "time"}

    install(app, settings, parts=parts)
    return app


@pytest.fixture(params=["memory", "upstash"])
async def hi(request: pytest.FixtureRequest, make_harness: MakeHarness) -> AsyncIterator[Harness]:
    """The counting app at a quota of 3, on the in-process store or on Upstash."""
    stores: dict[str, Any] = {}
    if request.param == "upstash":
        upstash: UpstashEndpoint = request.getfixturevalue("upstash")
        stores = {
            "upstash_redis_rest_url": upstash.url,
            "upstash_redis_rest_token": upstash.token,
            "redis_namespace": f"idem{next(_namespaces)}",
            "redis_timeout": 5,
        }
    h = await make_harness(
        app_factory=counting_app, raise_app_exceptions=False, tiers=QUOTA_3, **stores
    )
    yield h
    await h.parts.aclose()


def runs(h: Harness) -> Counter[str]:
    counted: Counter[str] = h.app.state.runs
    return counted


def idem(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def test_twenty_replays_at_quota_three_run_once_and_charge_once(hi: Harness) -> None:
    key = await hi.add_account("free")
    answers = [await hi.call("/v1/hello", key, headers=idem("same")) for _ in range(20)]
    assert [a.status_code for a in answers] == [200] * 20
    assert {a.text for a in answers} == {'{"run":1}'}
    assert runs(hi)["hello"] == 1
    assert await hi.used(key) == 1
    assert [a.headers.get("idempotent-replayed") for a in answers] == [None] + ["true"] * 19
    assert answers[-1].headers["RateLimit"].endswith('"quota";r=2;t=1339200')


async def test_a_keyed_request_after_the_quota_is_spent_is_denied(hi: Harness) -> None:
    key = await hi.add_account("free")
    first = await hi.call("/v1/hello", key, headers=idem("early"))
    assert [(await hi.call("/v1/hello", key)).status_code for _ in range(3)] == [200, 200, 429]
    assert_problem(await hi.call("/v1/hello", key, headers=idem("late")), 429, "quota-exhausted")
    assert_problem(await hi.call("/v1/hello", key, headers=idem("late")), 429, "quota-exhausted")
    replay = await hi.call("/v1/hello", key, headers=idem("early"))  # kept before the quota ran out
    assert (replay.status_code, replay.text) == (200, first.text)
    assert runs(hi)["hello"] == 3
    assert await hi.used(key) == 3


async def test_a_replay_repeats_status_body_and_headers_that_matter(hi: Harness) -> None:
    key = await hi.add_account("free")
    sent: dict[str, Any] = {"headers": {"X-API-Key": key, **idem("order-1")}, "content": b"{}"}
    first = await hi.client.post("/v1/orders", **sent)
    again = await hi.client.post("/v1/orders", **sent)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    for name in ("content-type", "location", "content-length"):
        assert again.headers[name] == first.headers[name]
    assert again.headers["RateLimit-Policy"] == first.headers["RateLimit-Policy"]
    assert runs(hi)["orders"] == 1


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        pytest.param("/v1/orders", "POST", b'{"n": 2}', id="other-body"),
        pytest.param("/v1/orders?dry=1", "POST", b"{}", id="other-query"),
        pytest.param("/v1/hello", "GET", b"", id="other-route"),
        pytest.param("/v1/costly", "GET", b"", id="other-cost"),
    ],
)
async def test_the_same_key_on_another_request_is_422(
    hi: Harness, path: str, method: str, body: bytes
) -> None:
    key = await hi.add_account("free")
    headers = {"X-API-Key": key, **idem("k")}
    assert (await hi.client.post("/v1/orders", headers=headers, content=b"{}")).status_code == 201
    reused = await hi.client.request(method, path, headers=headers, content=body)
    assert_problem(reused, 422, "idempotency-key-reused")
    assert sum(runs(hi).values()) == 1
    assert await hi.used(key) == 1


async def test_a_replay_while_the_first_is_in_flight_is_409(hi: Harness) -> None:
    key = await hi.add_account("free")
    first = asyncio.create_task(hi.call("/v1/slow", key, headers=idem("slow")))
    await asyncio.wait_for(hi.app.state.entered.wait(), 5)  # the first is in the endpoint
    # Bounded: a gate that let the replay in would leave it waiting in the endpoint.
    meanwhile = await asyncio.wait_for(hi.call("/v1/slow", key, headers=idem("slow")), 5)
    assert_problem(meanwhile, 409, "idempotency-in-flight")
    assert meanwhile.headers["Retry-After"] == "1"
    hi.app.state.release.set()
    assert (await first).status_code == 200
    assert (await hi.call("/v1/slow", key, headers=idem("slow"))).json() == {"slow": "done"}
    assert runs(hi)["slow"] == 1
    assert await hi.used(key) == 1


async def test_a_non_billable_answer_forgets_the_key(hi: Harness) -> None:
    key = await hi.add_account("free")
    assert (await hi.call("/v1/fails-once", key, headers=idem("job"))).status_code == 503
    assert await hi.used(key) == 0
    retry = await hi.call("/v1/fails-once", key, headers=idem("job"))  # runs, and is charged
    assert (retry.status_code, retry.json()) == (200, {"second": "time"})
    assert "idempotent-replayed" not in retry.headers
    again = await hi.call("/v1/fails-once", key, headers=idem("job"))
    assert (again.status_code, again.headers["idempotent-replayed"]) == (200, "true")
    assert runs(hi)["fails-once"] == 2
    assert await hi.used(key) == 1


async def test_a_response_too_large_to_keep_is_served_once_then_422(hi: Harness) -> None:
    key = await hi.add_account("free")
    first = await hi.call("/v1/big", key, headers=idem("big"))
    assert (first.status_code, len(first.content)) == (200, MAX_KEPT_RESPONSE + 1)
    for _ in range(3):
        again = await hi.call("/v1/big", key, headers=idem("big"))
        assert_problem(again, 422, "idempotency-response-not-kept")
    assert runs(hi)["big"] == 1
    assert await hi.used(key) == 1


async def test_a_keyed_body_larger_than_the_bound_is_413(hi: Harness) -> None:
    key = await hi.add_account("free")
    headers = {"X-API-Key": key, **idem("huge")}
    body = b"x" * (MAX_FINGERPRINTED_BODY + 1)
    assert_problem(
        await hi.client.post("/v1/orders", headers=headers, content=body),
        413,
        "idempotency-body-too-large",
    )
    assert runs(hi)["orders"] == 0
    assert await hi.used(key) == 0


async def test_an_sf_string_and_a_bare_token_name_the_same_key(hi: Harness) -> None:
    key = await hi.add_account("free")
    first = await hi.call("/v1/hello", key, headers=idem('"8e03978e-40d5"'))
    again = await hi.call("/v1/hello", key, headers=idem("8e03978e-40d5"))
    assert again.text == first.text
    assert runs(hi)["hello"] == 1
    assert_problem(await hi.call("/v1/hello", key, headers=idem('"a"b"')), 400,
                   "invalid-idempotency-key")  # fmt: skip
    assert_problem(await hi.call("/v1/hello", key, headers=idem("")), 400,
                   "invalid-idempotency-key")  # fmt: skip


async def test_random_traffic_never_runs_a_key_twice_nor_exceeds_the_quota(hi: Harness) -> None:
    """Replays, new keys, plain requests and failures in any order, at a quota of 3."""
    rng = random.Random(11)
    key = await hi.add_account("free")
    statuses: Counter[int] = Counter()
    for _ in range(60):
        path = rng.choice(["/v1/hello", "/v1/hello", "/v1/fails-once", "/v1/costly"])
        headers = idem(rng.choice(["a", "b", "c"])) if rng.random() < 0.8 else {}
        statuses[(await hi.call(path, key, headers=headers)).status_code] += 1
    served: Counter[str] = hi.app.state.served
    assert all(n == 1 for key, n in served.items() if key)  # once per key, whatever came after
    billable = runs(hi)["hello"] + 2 * runs(hi)["costly"] + max(0, runs(hi)["fails-once"] - 1)
    assert await hi.used(key) == billable <= 3
    assert statuses[429] > 0  # the quota was reached, so the bound was tested
    assert statuses[200] > billable  # and replays were served


async def test_fail_open_does_not_cover_keyed_requests(hi: Harness) -> None:
    key = await hi.add_account("pro")  # on_error: allow
    assert (await hi.call("/v1/hello", key)).status_code == 200  # its tier is now known
    hi.store.fail()
    assert (await hi.call("/v1/hello", key)).status_code == 200  # fail-open, uncounted
    # Without the store the key cannot be held, and letting it in could run it twice.
    assert_problem(await hi.call("/v1/hello", key, headers=idem("k")), 503, "limiter-unavailable")
    hi.store.recover()


async def test_a_keyed_body_declared_over_the_bound_is_refused_unread(hi: Harness) -> None:
    """The fingerprint's read comes before the store vouches for the key: a declared length
    over the bound costs the server nothing (a forged key with a valid checksum included)."""
    body = Chunks(MAX_FINGERPRINTED_BODY // 65_536 + 1, b"x" * 65_536)
    headers = {"X-API-Key": generate_key("test"), **idem("huge"), "Content-Length": str(body.size)}
    response = await hi.client.post("/v1/orders", headers=headers, content=body.stream())
    assert_problem(response, 413, "idempotency-body-too-large")
    assert body.pulled == 0
    assert runs(hi)["orders"] == 0


@pytest.mark.parametrize("store", ["memory", "upstash"])
async def test_kept_responses_past_the_accounts_budget_are_served_but_not_kept(
    request: pytest.FixtureRequest, make_harness: MakeHarness, store: str
) -> None:
    """Every new key is a charged request, but a big quota times 64 KiB would still let one
    account fill the owner's Redis: past its budget a response is billed and served once,
    and its replays are told it was not kept (never run again, never free)."""
    stores: dict[str, Any] = {}
    if store == "upstash":
        upstash: UpstashEndpoint = request.getfixturevalue("upstash")
        stores = {
            "upstash_redis_rest_url": upstash.url,
            "upstash_redis_rest_token": upstash.token,
            "redis_namespace": f"idem{next(_namespaces)}",
            "redis_timeout": 5,
        }
    h = await make_harness(app_factory=counting_app, tiers=QUOTA_3, idempotency_budget=1, **stores)
    key = await h.add_account("free")
    first = await h.call("/v1/hello", key, headers=idem("over-budget"))
    assert first.status_code == 200
    for _ in range(2):
        again = await h.call("/v1/hello", key, headers=idem("over-budget"))
        assert_problem(again, 422, "idempotency-response-not-kept")
    assert runs(h)["hello"] == 1
    assert await h.used(key) == 1
    await h.parts.aclose()
