"""429 burst: GCRA at `burst` requests per second, with the real wait in Retry-After."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from .conftest import Harness, assert_problem


async def _send(h: Harness, key: str, n: int, *, concurrent: bool) -> list[httpx.Response]:
    if concurrent:
        return list(await asyncio.gather(*(h.call("/v1/hello", key) for _ in range(n))))
    return [await h.call("/v1/hello", key) for _ in range(n)]


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
async def test_frozen_clock_admits_exactly_the_burst(h: Harness, concurrent: bool) -> None:
    key = await h.add_account("free")  # burst 5
    responses = await _send(h, key, 50, concurrent=concurrent)

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 45
    for denied in (r for r in responses if r.status_code == 429):
        body = assert_problem(denied, 429, "burst-exceeded")
        assert "5 requests per second" in body["detail"]
        assert denied.headers["Retry-After"] == "1"
        assert denied.headers["RateLimit-Policy"].startswith('"burst";q=5;w=1, ')
        assert denied.headers["RateLimit"].startswith('"burst";r=0;t=1, ')


async def test_denied_burst_headers(h: Harness) -> None:
    key = await h.add_account("free")
    for _ in range(5):
        assert (await h.call("/v1/hello", key)).status_code == 200
    denied = await h.call("/v1/hello", key)
    assert_problem(denied, 429, "burst-exceeded")
    assert denied.headers["RateLimit"] == '"burst";r=0;t=1, "quota";r=995;t=1339200'


async def test_retry_after_is_the_real_wait(h: Harness) -> None:
    key = await h.add_account("free")  # one token every 200 ms
    for _ in range(5):
        assert (await h.call("/v1/hello", key)).status_code == 200
    assert (await h.call("/v1/hello", key)).status_code == 429

    h.clock.advance(199)
    assert (await h.call("/v1/hello", key)).status_code == 429

    h.clock.advance(1)
    assert (await h.call("/v1/hello", key)).status_code == 200
    assert (await h.call("/v1/hello", key)).status_code == 429


async def test_a_full_second_refills_the_bucket(h: Harness) -> None:
    key = await h.add_account("free")
    await _send(h, key, 10, concurrent=False)
    h.clock.advance(1000)
    statuses = [r.status_code for r in await _send(h, key, 10, concurrent=False)]
    assert statuses == [200] * 5 + [429] * 5


async def test_burst_denials_do_not_consume_quota(h: Harness) -> None:
    key = await h.add_account("free")
    await _send(h, key, 20, concurrent=False)
    h.clock.advance(1000)
    assert await h.used(key) == 5


async def test_burst_is_per_account_not_per_key(h: Harness) -> None:
    first = await h.add_account("free", account_id="acme")
    second = await h.add_key("acme")
    other = await h.add_account("free")
    for _ in range(5):
        assert (await h.call("/v1/hello", first)).status_code == 200
    assert (await h.call("/v1/hello", second)).status_code == 429
    assert (await h.call("/v1/hello", other)).status_code == 200
