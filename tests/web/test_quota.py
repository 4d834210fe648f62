"""429 quota: exact limits, costs, Retry-After to the period's end, rollover, overrides."""

from __future__ import annotations

import pytest

from .conftest import (
    DAY_MS,
    MONTH_END_MS,
    NOW_MS,
    Harness,
    MakeHarness,
    assert_problem,
    ceil_s,
    extra_app,
    ms,
    tiers_json,
)

# Burst is high so that only the quota can deny.
QUOTA_TIERS = tiers_json(
    free={"limit": 3, "price": 0, "burst": 1000},
    pro={"limit": 12, "price": 29, "burst": 1000},
)


@pytest.fixture
async def hq(make_harness: MakeHarness) -> Harness:
    return await make_harness(app_factory=extra_app, tiers=QUOTA_TIERS)


async def _hello_statuses(h: Harness, key: str, n: int, path: str = "/v1/hello") -> list[int]:
    return [(await h.call(path, key)).status_code for _ in range(n)]


async def test_exactly_at_quota(hq: Harness) -> None:
    key = await hq.add_account("free")  # limit 3
    assert await _hello_statuses(hq, key, 3) == [200, 200, 200]

    denied = await hq.call("/v1/hello", key)
    body = assert_problem(denied, 429, "quota-exhausted")
    assert body["limit"] == 3
    assert body["used"] == 3
    assert body["resets_at"] == "2026-12-01T00:00:00+00:00"
    assert denied.headers["RateLimit"].endswith('"quota";r=0;t=1339200')
    assert await hq.used(key) == 3


async def test_replay_is_admitted_even_with_the_quota_used_up(hq: Harness) -> None:
    key = await hq.add_account("free")
    await _hello_statuses(hq, key, 2)
    retry = {"Idempotency-Key": "last-one"}
    assert (await hq.call("/v1/hello", key, headers=retry)).status_code == 200
    assert (await hq.call("/v1/hello", key)).status_code == 429
    assert (await hq.call("/v1/hello", key, headers=retry)).status_code == 200
    assert await hq.used(key) == 3


async def test_retry_after_is_seconds_to_the_end_of_the_month_rounded_up(hq: Harness) -> None:
    key = await hq.add_account("free")
    await _hello_statuses(hq, key, 3)
    hq.clock.advance(250)  # 1_339_199.75 s before December: rounds up

    denied = await hq.call("/v1/hello", key)
    assert_problem(denied, 429, "quota-exhausted")
    expected = ceil_s(MONTH_END_MS - hq.clock.now_ms())
    assert expected == 1_339_200
    assert denied.headers["Retry-After"] == str(expected)


async def test_cost_above_one_and_the_denied_request_is_not_counted(hq: Harness) -> None:
    key = await hq.add_account("pro")  # limit 12; /v1/expensive costs 5
    assert await _hello_statuses(hq, key, 3, "/v1/expensive") == [200, 200, 429]
    assert await hq.used(key) == 10

    # The 2 units left still serve cheaper requests.
    assert await _hello_statuses(hq, key, 3) == [200, 200, 429]
    assert await hq.used(key) == 12


async def test_rollover_into_the_next_calendar_month(hq: Harness) -> None:
    key = await hq.add_account("free")
    await _hello_statuses(hq, key, 3)

    hq.clock.set(MONTH_END_MS - 1)
    assert (await hq.call("/v1/hello", key)).status_code == 429

    hq.clock.set(MONTH_END_MS)
    assert (await hq.call("/v1/hello", key)).status_code == 200
    december = await hq.call("/v1/hello", key)
    assert december.headers["RateLimit-Policy"].endswith(f'"quota";q=3;w={31 * 86_400}')
    usage = await hq.usage(key)
    assert usage["used"] == 2
    assert usage["period_start"] == "2026-12-01T00:00:00+00:00"
    assert usage["period_end"] == "2027-01-01T00:00:00+00:00"


async def test_subscription_period_replaces_the_calendar_month(hq: Harness) -> None:
    start, end = ms(2026, 11, 10), ms(2026, 12, 10)
    key = await hq.add_account("free", period_start_ms=start, period_end_ms=end)
    await _hello_statuses(hq, key, 3)

    denied = await hq.call("/v1/hello", key)
    body = assert_problem(denied, 429, "quota-exhausted")
    assert body["resets_at"] == "2026-12-10T00:00:00+00:00"
    assert denied.headers["Retry-After"] == str(ceil_s(end - NOW_MS))
    usage = await hq.usage(key)
    assert usage["period_start"] == "2026-11-10T00:00:00+00:00"
    assert usage["period_end"] == "2026-12-10T00:00:00+00:00"

    hq.clock.set(MONTH_END_MS)  # a new calendar month is not a new billing period
    assert (await hq.call("/v1/hello", key)).status_code == 429

    hq.clock.set(end)
    assert (await hq.call("/v1/hello", key)).status_code == 200
    assert await hq.used(key) == 1


async def test_subscription_period_headers_use_its_length(hq: Harness) -> None:
    start, end = NOW_MS - DAY_MS, NOW_MS + 6 * DAY_MS  # a 7-day period
    key = await hq.add_account("free", period_start_ms=start, period_end_ms=end)
    admitted = await hq.call("/v1/hello", key)
    assert admitted.status_code == 200
    assert admitted.headers["RateLimit-Policy"] == '"burst";q=1000;w=1, "quota";q=3;w=604800'
    assert admitted.headers["RateLimit"].endswith(f'"quota";r=2;t={6 * 86_400}')


@pytest.mark.parametrize("override", [0, 1, 5])
async def test_per_account_limit_override(hq: Harness, override: int) -> None:
    key = await hq.add_account("free", limit_override=override)  # the tier says 3
    statuses = await _hello_statuses(hq, key, override + 1)
    assert statuses == [200] * override + [429]
    usage = await hq.usage(key)
    assert usage["limit"] == override
    assert usage["used"] == override
    assert usage["remaining"] == 0
