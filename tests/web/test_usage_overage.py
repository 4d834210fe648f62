"""Hybrid pricing as the customer sees it, through the app, on both hot stores: GET /v1/usage
(overage, cap, routes), the RateLimit fields' overage policy, the 429 at the cap naming the
exhausted policies, exact counts with 64 concurrent clients at the boundaries, and what is
never billed (5xx, refunded 4xx, /healthz, warm-ups, idempotent replays)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tiergate.usage import MeteredPeriod
from tiergate_tools.localredis.background import UpstashEndpoint

from .conftest import (
    MONTH_END_MS,
    NOVEMBER_S,
    NOW_MS,
    Harness,
    MakeHarness,
    assert_problem,
    ceil_s,
    extra_app,
    ms,
    tiers_json,
)

# pro: 10 units a month, then up to 5 overage units; burst out of the way.
HYBRID = tiers_json(
    free={"limit": 3, "price": 0, "burst": 100_000},
    pro={
        "limit": 10,
        "price": 29,
        "burst": 100_000,
        "overage": {"meter": "api_overage", "unit_price": 0.002, "cap": 5},
    },
)
LIMIT, CAP = 10, 5
START = ms(2026, 11, 1)
RESET_S = ceil_s(MONTH_END_MS - NOW_MS)
_namespaces = itertools.count()


@pytest.fixture(params=["memory", "upstash"])
async def hy(request: pytest.FixtureRequest, make_harness: MakeHarness) -> AsyncIterator[Harness]:
    """The app with extra routes on the hybrid tiers, refunding 4xx too, warm-ups allowed;
    on the in-process store or on Upstash (a real Redis behind the local REST server)."""
    stores: dict[str, Any] = {}
    if request.param == "upstash":
        upstash: UpstashEndpoint = request.getfixturevalue("upstash")
        stores = {
            "upstash_redis_rest_url": upstash.url,
            "upstash_redis_rest_token": upstash.token,
            "redis_namespace": f"hybrid{next(_namespaces)}",
            "redis_timeout": 5,
        }
    h = await make_harness(
        app_factory=extra_app,
        raise_app_exceptions=False,
        tiers=HYBRID,
        refund_client_errors=True,
        warmup_secret="warm",
        **stores,
    )
    yield h
    await h.parts.aclose()


async def hellos(h: Harness, key: str, n: int, path: str = "/v1/hello") -> list[int]:
    return [(await h.call(path, key)).status_code for _ in range(n)]


async def together(h: Harness, key: str, n: int, path: str = "/v1/hello") -> Counter[int]:
    """`n` clients at once, each sending one request."""
    answers = await asyncio.gather(*(h.call(path, key) for _ in range(n)))
    return Counter(a.status_code for a in answers)


async def metered(h: Harness, account: str) -> int:
    periods: list[MeteredPeriod] = await h.parts.meter_index.metered()
    return sum(p.units for p in periods if p.account_id == account)


async def test_usage_on_an_overage_tier_says_how_far_into_overage(hy: Harness) -> None:
    key = await hy.add_account("pro", account_id="acme")
    assert await hellos(hy, key, 8) == [200] * 8
    assert await hellos(hy, key, 1, "/v1/expensive") == [200]  # cost 5: 13, 3 past the limit
    assert await hy.usage(key) == {
        "account": "acme",
        "tier": "pro",
        "limit": LIMIT,
        "used": 13,
        "remaining": 0,
        "overage": 3,
        "overage_cap": CAP,
        "period_start": "2026-11-01T00:00:00+00:00",
        "period_end": "2026-12-01T00:00:00+00:00",
        "routes": {"/v1/hello": 8, "/v1/expensive": 5},
        "burst_per_second": 100_000,
    }
    assert await metered(hy, "acme") == 3


async def test_usage_without_overage_has_a_null_cap(hy: Harness) -> None:
    key = await hy.add_account("free")
    assert await hellos(hy, key, 4) == [200, 200, 200, 429]
    usage = await hy.usage(key)
    assert (usage["used"], usage["remaining"], usage["overage"]) == (3, 0, 0)
    assert usage["overage_cap"] is None
    assert usage["routes"] == {"/v1/hello": 3}


async def test_an_accounts_lowered_cap_is_what_usage_and_the_gate_apply(hy: Harness) -> None:
    key = await hy.add_account("pro", overage_cap_override=2)
    assert await hellos(hy, key, 13) == [200] * 12 + [429]
    usage = await hy.usage(key)
    assert (usage["used"], usage["overage"], usage["overage_cap"]) == (12, 2, 2)


async def test_ratelimit_fields_carry_an_overage_policy(hy: Harness) -> None:
    key = await hy.add_account("pro")
    within = (await hy.call("/v1/hello", key)).headers
    assert within["RateLimit-Policy"] == (
        f'"burst";q=100000;w=1, "quota";q={LIMIT};w={NOVEMBER_S}, "overage";q={CAP};w={NOVEMBER_S}'
    )
    assert within["RateLimit"].endswith(f'"quota";r=9;t={RESET_S}, "overage";r=5;t={RESET_S}')
    await hellos(hy, key, 10)
    past = (await hy.call("/v1/hello", key)).headers  # the 12th: 2 units into overage
    assert past["RateLimit"].endswith(f'"quota";r=0;t={RESET_S}, "overage";r=3;t={RESET_S}')


async def test_a_tier_without_overage_keeps_two_policies(hy: Harness) -> None:
    key = await hy.add_account("free")
    response = await hy.call("/v1/hello", key)
    assert "overage" not in response.headers["RateLimit-Policy"]
    assert "overage" not in response.headers["RateLimit"]


async def test_the_429_at_the_cap_names_the_exhausted_policies(hy: Harness) -> None:
    key = await hy.add_account("pro")
    assert await hellos(hy, key, LIMIT + CAP) == [200] * (LIMIT + CAP)
    denied = await hy.call("/v1/hello", key)
    body = assert_problem(denied, 429, "quota-exhausted")
    assert body["violated-policies"] == ["quota", "overage"]
    assert (body["limit"], body["used"]) == (LIMIT, LIMIT + CAP)
    assert "overage cap of 5 units" in body["detail"]
    assert denied.headers["RateLimit"].endswith(f'"overage";r=0;t={RESET_S}')
    assert denied.headers["Retry-After"] == str(RESET_S)


async def test_the_429_at_a_flat_quota_names_the_quota_alone(hy: Harness) -> None:
    key = await hy.add_account("free")
    await hellos(hy, key, 3)
    body = assert_problem(await hy.call("/v1/hello", key), 429, "quota-exhausted")
    assert body["violated-policies"] == ["quota"]
    assert body["detail"].startswith("The quota of 3 is used up")


async def test_a_burst_429_names_the_burst_policy(make_harness: MakeHarness) -> None:
    h = await make_harness()  # the packaged tiers: free bursts at 5 per second
    key = await h.add_account("free")
    await hellos(h, key, 5)
    body = assert_problem(await h.call("/v1/hello", key), 429, "burst-exceeded")
    assert body["violated-policies"] == ["burst"]


@pytest.mark.parametrize(
    ("already", "path", "admitted", "used"),
    [
        (0, "/v1/hello", LIMIT + CAP, LIMIT + CAP),  # from nothing to the cap
        (LIMIT - 1, "/v1/hello", CAP + 1, LIMIT + CAP),  # across the limit, to the cap
        (LIMIT + CAP - 1, "/v1/hello", 1, LIMIT + CAP),  # the last overage unit
        (0, "/v1/expensive", 3, 15),  # cost 5: three fit under limit + cap exactly
        (LIMIT - 2, "/v1/expensive", 1, LIMIT + 3),  # straddles the limit; 18 would not fit
    ],
    ids=["empty", "at-limit", "last-unit", "cost-5", "straddle"],
)
async def test_64_concurrent_clients_at_the_boundaries_are_counted_exactly(
    hy: Harness, already: int, path: str, admitted: int, used: int
) -> None:
    key = await hy.add_account("pro", account_id="acme")
    assert await hellos(hy, key, already) == [200] * already
    answers = await together(hy, key, 64, path)
    assert answers == Counter({200: admitted, 429: 64 - admitted})
    usage = await hy.usage(key)
    assert (usage["used"], usage["overage"]) == (used, used - LIMIT)
    assert sum(usage["routes"].values()) == used
    assert await metered(hy, "acme") == used - LIMIT


async def test_what_is_not_billable_never_reaches_used_routes_or_overage(hy: Harness) -> None:
    """Past the limit, where every unit would be billed as overage: only the one billable
    request (an Idempotency-Key's first) counts."""
    key = await hy.add_account("pro", account_id="acme")
    assert await hellos(hy, key, LIMIT) == [200] * LIMIT
    not_billed = [
        await hy.call("/v1/status/500", key),  # 5xx: always refunded
        await hy.call("/v1/status/503", key),
        await hy.call("/v1/crash", key),  # an endpoint that raised: 500
        await hy.call("/v1/status/404", key),  # 4xx: refunded by TIERGATE_REFUND_CLIENT_ERRORS
        await hy.call("/v1/status/422", key),
        await hy.call("/healthz"),  # never gated
        await hy.call("/v1/hello", key, headers={"X-Tiergate-Warmup": "warm"}),  # warm-ups
        await hy.call("/internal/warmup", headers={"Authorization": "Bearer warm"}),
    ]
    assert [r.status_code for r in not_billed] == [500, 503, 500, 404, 422, 200, 204, 204]
    keyed = {"Idempotency-Key": "order-1"}
    replays = [await hy.call("/v1/hello", key, headers=keyed) for _ in range(4)]
    assert [r.status_code for r in replays] == [200] * 4
    assert [r.headers.get("idempotent-replayed") for r in replays] == [None] + ["true"] * 3
    usage = await hy.usage(key)
    assert (usage["used"], usage["overage"]) == (LIMIT + 1, 1)
    assert usage["routes"] == {"/v1/hello": LIMIT + 1}
    assert await metered(hy, "acme") == 1


async def test_a_refunded_request_past_the_limit_gives_its_overage_back(hy: Harness) -> None:
    """The flaky route fails once (refunded), then succeeds: one unit billed."""
    key = await hy.add_account("pro", account_id="acme")
    await hellos(hy, key, LIMIT)
    assert [(await hy.call("/v1/flaky", key)).status_code for _ in range(2)] == [500, 200]
    usage = await hy.usage(key)
    assert (usage["used"], usage["overage"], usage["routes"]) == (
        LIMIT + 1,
        1,
        {"/v1/hello": LIMIT, "/v1/flaky": 1},
    )
    assert await metered(hy, "acme") == 1


async def test_usage_when_the_store_cannot_read_routes_is_a_503(hy: Harness) -> None:
    key = await hy.add_account("pro")
    hy.store.fail(working=["check", "write"])
    assert_problem(await hy.call("/v1/usage", key), 503, "limiter-unavailable")


async def test_the_openapi_document_describes_usage(hy: Harness) -> None:
    document = (await hy.call("/openapi.json")).json()
    usage = document["paths"]["/v1/usage"]["get"]
    ref = usage["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {"overage", "overage_cap", "routes", "used", "remaining"} <= set(schema["properties"])
    assert schema["properties"]["routes"]["additionalProperties"] == {"type": "integer"}
    assert "503" in usage["responses"]


async def test_usage_of_a_fail_open_admission_is_a_503_not_zeros(make_harness: MakeHarness) -> None:
    """Redis down and a tier that lets requests in uncounted: /usage has no counts to tell,
    and a 200 of zeros (and a 1970 period) would read as a fresh quota."""
    open_tiers = tiers_json(
        free={"limit": 3, "price": 0, "burst": 100, "on_error": "allow"},
        pro={"limit": 9, "price": 9, "burst": 100},
    )
    h = await make_harness(tiers=open_tiers)
    key = await h.add_account("free")
    assert (await h.call("/v1/hello", key)).status_code == 200
    h.store.fail()
    assert (await h.call("/v1/hello", key)).status_code == 200  # fail-open, as the tier says
    assert_problem(await h.call("/v1/usage", key), 503, "limiter-unavailable")


async def test_routes_are_counted_by_template_not_by_path(hy: Harness) -> None:
    key = await hy.add_account("pro")
    for code in (200, 201, 202):
        assert (await hy.call(f"/v1/status/{code}", key)).status_code == 200
    assert (await hy.usage(key))["routes"] == {"/v1/status/{code}": 3}
