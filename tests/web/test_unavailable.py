"""503 when the hot store fails, or admitted without counting for a tier that fails open."""

from __future__ import annotations

import logging

import pytest

from .conftest import Harness, MakeHarness, assert_problem, extra_app, tiers_json

FAIL_OPEN_TIERS = tiers_json(
    free={"limit": 1000, "price": 0, "burst": 5},
    pro={"limit": 50_000, "price": 29, "burst": 20, "on_error": "allow"},
)


@pytest.fixture
async def hu(make_harness: MakeHarness) -> Harness:
    return await make_harness(tiers=FAIL_OPEN_TIERS)


async def test_store_down_is_503_with_retry_after(h: Harness) -> None:
    key = await h.add_account("free")
    h.store.fail()
    response = await h.call("/v1/hello", key)
    assert_problem(response, 503, "limiter-unavailable")
    assert response.headers["Retry-After"] == "1"


async def test_fail_open_tier_is_admitted_once_its_tier_was_seen(hu: Harness) -> None:
    key = await hu.add_account("pro")
    assert (await hu.call("/v1/hello", key)).status_code == 200
    hu.store.fail()

    response = await hu.call("/v1/hello", key)
    assert response.status_code == 200
    assert response.json() == {"message": "hello", "tier": "pro"}
    assert "RateLimit" not in response.headers  # there is no limiter answer to report


async def test_fail_open_needs_the_tier_seen_before(hu: Harness) -> None:
    key = await hu.add_account("pro")  # never seen: the lowest tier's policy applies
    hu.store.fail()
    assert_problem(await hu.call("/v1/hello", key), 503, "limiter-unavailable")


async def test_fail_closed_tier_stays_503_after_being_seen(hu: Harness) -> None:
    key = await hu.add_account("free")
    assert (await hu.call("/v1/hello", key)).status_code == 200
    hu.store.fail()
    assert_problem(await hu.call("/v1/hello", key), 503, "limiter-unavailable")


async def test_store_failing_on_write_through_is_503(h: Harness) -> None:
    key = await h.add_account("free")
    h.store.fail(working={"check"})
    assert_problem(await h.call("/v1/hello", key), 503, "limiter-unavailable")


async def test_failed_refund_does_not_break_the_response(make_harness: MakeHarness) -> None:
    h = await make_harness(app_factory=extra_app, raise_app_exceptions=False)
    key = await h.add_account("free")
    working = frozenset({"check", "write", "used"})
    h.store.fail(working)
    response = await h.call("/v1/status/500", key)
    assert response.status_code == 500
    assert response.json()["detail"] == "answered 500"


async def test_an_account_on_a_tier_no_longer_configured_is_a_clear_503(h: Harness) -> None:
    key = await h.add_account(tier="gold")  # a tier the default configuration lacks
    response = await h.call("/v1/hello", key)
    assert_problem(response, 503, "tier-not-configured")


async def test_an_outage_is_a_few_warning_lines_not_one_per_request(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """1,095 requests in 7 s while Redis is down were 1,095 WARNING lines (CloudWatch bills
    them): now the first of each kind, a count every 10 s, and one when it recovers."""
    key = await h.add_account("free")
    assert (await h.call("/v1/hello", key)).status_code == 200
    h.store.fail()
    caplog.set_level(logging.WARNING, logger="tiergate")
    for _ in range(1_095):
        h.clock.advance(6)
        assert (await h.call("/v1/hello", key)).status_code == 503
    assert len(caplog.records) == 2  # the first decision that failed, and its failed refund
    h.clock.advance(10_000)
    assert (await h.call("/v1/hello", key)).status_code == 503
    assert [r.getMessage().endswith("(1094 more in the last 16 s)") for r in caplog.records] == [
        False, False, True, True,
    ]  # fmt: skip
    h.store.recover()
    assert (await h.call("/v1/hello", key)).status_code == 200
    assert len(caplog.records) == 4  # nothing went unsaid since
    h.store.fail()
    for _ in range(5):
        await h.call("/v1/hello", key)
    h.store.recover()
    await h.call("/v1/hello", key)
    said = [r.getMessage() for r in caplog.records[4:]]
    assert said[2:] == [
        "limiter unavailable: 4 more before it recovered",
        "settling failed: 4 more before it recovered",
    ]
