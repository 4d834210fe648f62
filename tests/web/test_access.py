"""402 billing and 403 access: account status, revoked and rotated keys, tiers, features."""

from __future__ import annotations

import pytest

from .conftest import DAY_MS, NOW_MS, Harness, MakeHarness, assert_problem, extra_app, tiers_json


@pytest.mark.parametrize("status", ["unpaid", "canceled", "paused", "incomplete_expired"])
async def test_suspended_subscription_is_402(h: Harness, status: str) -> None:
    key = await h.add_account("pro", status=status)
    body = assert_problem(await h.call("/v1/hello", key), 402, "billing-suspended")
    assert body["subscription_status"] == status


@pytest.mark.parametrize("status", ["active", "trialing"])
async def test_current_subscription_is_admitted(h: Harness, status: str) -> None:
    key = await h.add_account("pro", status=status)
    assert (await h.call("/v1/hello", key)).status_code == 200


async def test_past_due_is_admitted_until_the_grace_period_ends(h: Harness) -> None:
    since = NOW_MS - DAY_MS
    key = await h.add_account("pro", status="past_due", past_due_since_ms=since)
    assert (await h.call("/v1/hello", key)).status_code == 200

    h.clock.set(since + 3 * DAY_MS - 1)  # the default grace is 3 days
    assert (await h.call("/v1/hello", key)).status_code == 200

    h.clock.advance(1)
    body = assert_problem(await h.call("/v1/hello", key), 402, "billing-suspended")
    assert body["subscription_status"] == "past_due"


async def test_past_due_beyond_grace_is_402(h: Harness) -> None:
    key = await h.add_account("pro", status="past_due", past_due_since_ms=NOW_MS - 4 * DAY_MS)
    body = assert_problem(await h.call("/v1/hello", key), 402, "billing-suspended")
    assert body["subscription_status"] == "past_due"


@pytest.mark.parametrize(("overdue_h", "expected"), [(11, 200), (13, 402)])
async def test_grace_period_comes_from_settings(
    make_harness: MakeHarness, overdue_h: int, expected: int
) -> None:
    h = await make_harness(past_due_grace_days=0.5)
    since = NOW_MS - overdue_h * 3_600_000
    key = await h.add_account("pro", status="past_due", past_due_since_ms=since)
    assert (await h.call("/v1/hello", key)).status_code == expected


async def test_revoked_key_is_403(h: Harness) -> None:
    await h.add_account("pro", account_id="acme")
    revoked = await h.add_key("acme", revoked_at_ms=NOW_MS - 1)
    assert_problem(await h.call("/v1/hello", revoked), 403, "revoked-key")


async def test_rotated_key_works_until_it_expires(h: Harness) -> None:
    await h.add_account("pro", account_id="acme")
    old = await h.add_key("acme", expires_at_ms=NOW_MS + 60_000)
    new = await h.add_key("acme")
    assert (await h.call("/v1/hello", old)).status_code == 200

    h.clock.advance(59_999)
    assert (await h.call("/v1/hello", old)).status_code == 200

    h.clock.advance(1)
    assert_problem(await h.call("/v1/hello", old), 403, "revoked-key")
    assert (await h.call("/v1/hello", new)).status_code == 200


async def test_denials_do_not_consume_quota(h: Harness) -> None:
    await h.add_account("free", account_id="acme")
    key = await h.add_key("acme")
    revoked = await h.add_key("acme", revoked_at_ms=NOW_MS - 1)
    assert (await h.call("/v1/pro/hello", key)).status_code == 403
    assert (await h.call("/v1/hello", revoked)).status_code == 403
    assert await h.used(key) == 0


async def test_free_key_on_pro_route_is_403_with_required_tier(h: Harness) -> None:
    key = await h.add_account("free")
    body = assert_problem(await h.call("/v1/pro/hello", key), 403, "tier-too-low")
    assert body["required_tier"] == "pro"
    assert body["tier"] == "free"


@pytest.mark.parametrize("tier", ["pro", "enterprise"])
async def test_pro_route_admits_pro_and_above(h: Harness, tier: str) -> None:
    key = await h.add_account(tier)
    response = await h.call("/v1/pro/hello", key)
    assert response.status_code == 200
    assert response.json() == {"message": "hello, pro"}


FEATURE_TIERS = tiers_json(
    free={"limit": 1000, "price": 0, "burst": 5},
    pro={"limit": 50_000, "price": 29, "burst": 20, "features": ["exports"]},
)


@pytest.fixture
async def hf(make_harness: MakeHarness) -> Harness:
    return await make_harness(app_factory=extra_app, tiers=FEATURE_TIERS)


async def test_feature_route_denies_a_tier_without_it(hf: Harness) -> None:
    key = await hf.add_account("free")
    body = assert_problem(await hf.call("/v1/export", key), 403, "feature-not-in-tier")
    assert body["required_feature"] == "exports"
    assert body["tier"] == "free"


async def test_feature_route_admits_the_tier_with_it(hf: Harness) -> None:
    key = await hf.add_account("pro")
    response = await hf.call("/v1/export", key)
    assert response.status_code == 200
    assert response.json() == {"export": "done"}


async def test_feature_granted_to_one_account_on_top_of_its_tier(hf: Harness) -> None:
    key = await hf.add_account("free", extra_features=frozenset({"exports"}))
    assert (await hf.call("/v1/export", key)).status_code == 200


async def test_a_denial_reports_the_burst_as_it_is(h: Harness) -> None:
    """A 403 right after a 200 that spent a token says 4 are left, not a full bucket."""
    key = await h.add_account("free")  # burst 5
    assert (await h.call("/v1/hello", key)).status_code == 200
    denied = await h.call("/v1/pro/hello", key)
    assert_problem(denied, 403, "tier-too-low")
    assert denied.headers["RateLimit"].startswith('"burst";r=4;t=1, ')
    h.clock.advance(1000)
    refilled = await h.call("/v1/pro/hello", key)
    assert refilled.headers["RateLimit"].startswith('"burst";r=5;t=0, ')
