"""503 when the hot store fails, or admitted without counting for a tier that fails open."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import pytest

from tiergate.decision import Check, Verdict
from tiergate.errors import StoreUnavailable
from tiergate.hotstate import AccountState, KeyState
from tiergate.store import Charge, HotStore

from .conftest import Harness, MakeHarness, assert_problem, extra_app, tiers_json


class FailingStore:
    """A hot store that never answers; `inner` serves the calls listed in `working`."""

    def __init__(self, inner: HotStore | None = None, working: frozenset[str] = frozenset()):
        self.inner = inner
        self.working = working

    def _fail(self, call: str) -> None:
        if call not in self.working:
            raise StoreUnavailable(f"{call}: connection timed out")

    async def check(self, check: Check) -> Verdict:
        self._fail("check")
        assert self.inner is not None
        return await self.inner.check(check)

    async def complete(
        self, request_id: str, account_id: str, idempotency_key: str, response: str | None
    ) -> bool:
        self._fail("complete")
        assert self.inner is not None
        return await self.inner.complete(request_id, account_id, idempotency_key, response)

    async def refund(self, request_id: str, charge: Charge | None) -> None:
        self._fail("refund")
        assert self.inner is not None
        await self.inner.refund(request_id, charge)

    async def write(
        self,
        *,
        keys: Mapping[str, KeyState | None] | None = None,
        accounts: Sequence[AccountState] = (),
        unknown_key_ttl_ms: int = 60_000,
    ) -> None:
        self._fail("write")
        assert self.inner is not None
        await self.inner.write(keys=keys, accounts=accounts, unknown_key_ttl_ms=unknown_key_ttl_ms)

    async def used(self, account_id: str, period_start_ms: int) -> int:
        self._fail("used")
        assert self.inner is not None
        return await self.inner.used(account_id, period_start_ms)

    async def aclose(self) -> None:
        return None


FAIL_OPEN_TIERS = tiers_json(
    free={"limit": 1000, "price": 0, "burst": 5},
    pro={"limit": 50_000, "price": 29, "burst": 20, "on_error": "allow"},
)


@pytest.fixture
async def hu(make_harness: MakeHarness) -> Harness:
    return await make_harness(tiers=FAIL_OPEN_TIERS)


async def test_store_down_is_503_with_retry_after(h: Harness) -> None:
    key = await h.add_account("free")
    h.gate.store = FailingStore()
    response = await h.call("/v1/hello", key)
    assert_problem(response, 503, "limiter-unavailable")
    assert response.headers["Retry-After"] == "1"


async def test_fail_open_tier_is_admitted_once_its_tier_was_seen(hu: Harness) -> None:
    key = await hu.add_account("pro")
    assert (await hu.call("/v1/hello", key)).status_code == 200
    hu.gate.store = FailingStore()

    response = await hu.call("/v1/hello", key)
    assert response.status_code == 200
    assert response.json() == {"message": "hello", "tier": "pro"}
    assert "RateLimit" not in response.headers  # there is no limiter answer to report


async def test_fail_open_needs_the_tier_seen_before(hu: Harness) -> None:
    key = await hu.add_account("pro")  # never seen: the lowest tier's policy applies
    hu.gate.store = FailingStore()
    assert_problem(await hu.call("/v1/hello", key), 503, "limiter-unavailable")


async def test_fail_closed_tier_stays_503_after_being_seen(hu: Harness) -> None:
    key = await hu.add_account("free")
    assert (await hu.call("/v1/hello", key)).status_code == 200
    hu.gate.store = FailingStore()
    assert_problem(await hu.call("/v1/hello", key), 503, "limiter-unavailable")


async def test_store_failing_on_write_through_is_503(h: Harness) -> None:
    key = await h.add_account("free")
    h.gate.store = FailingStore(h.gate.store, working=frozenset({"check"}))
    assert_problem(await h.call("/v1/hello", key), 503, "limiter-unavailable")


async def test_failed_refund_does_not_break_the_response(make_harness: MakeHarness) -> None:
    h = await make_harness(app_factory=extra_app, raise_app_exceptions=False)
    key = await h.add_account("free")
    working = frozenset({"check", "write", "used"})
    h.gate.store = FailingStore(h.gate.store, working=working)
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
    working = h.gate.store
    h.gate.store = FailingStore()
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
    h.gate.store = working
    assert (await h.call("/v1/hello", key)).status_code == 200
    assert len(caplog.records) == 4  # nothing went unsaid since
    h.gate.store = FailingStore()
    for _ in range(5):
        await h.call("/v1/hello", key)
    h.gate.store = working
    await h.call("/v1/hello", key)
    said = [r.getMessage() for r in caplog.records[4:]]
    assert said[2:] == [
        "limiter unavailable: 4 more before it recovered",
        "settling failed: 4 more before it recovered",
    ]
