"""A decision whose answer is lost must never charge: Redis commits, then answers late.

The real script behind the local Upstash server, with a proxy in between that holds requests
before forwarding them (a call that runs after its caller gave up) or holds Redis's answer
(a call that ran and committed, but answers past the timeout).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.decision import Code
from tiergate.keys import generate_key, key_digest
from tiergate.periods import calendar_month
from tiergate.registry import Account, KeyRecord
from tiergate.store.upstash import UpstashStore
from tiergate.web.example import create_app
from tiergate.wiring import Parts, build
from tiergate_tools.localredis.background import UpstashEndpoint

from ..support.late_proxy import Hold, LateProxy, late_proxy
from .conftest import NOW
from .test_hot_store import ask, seed

_namespaces = itertools.count()
TIERS = (
    '{"free": {"limit": 10, "price": 0, "burst": 1000},'
    ' "pro": {"limit": 10, "price": 9, "burst": 1000, "on_error": "allow"}}'
)
TIMEOUT_S = 0.2


@pytest.fixture
def proxy(upstash: UpstashEndpoint) -> Iterator[LateProxy]:
    with late_proxy(upstash.url) as running:
        yield running


@dataclass
class Api:
    client: httpx.AsyncClient
    parts: Parts
    proxy: LateProxy

    async def key(self, tier: str) -> dict[str, str]:
        """A fresh account's key, its hot state loaded (so the next call is one EVALSHA)."""
        account = f"acct-{tier}-{next(_namespaces)}"
        key = generate_key("test")
        await self.parts.registry.put_account(Account(account, tier=tier))
        await self.parts.registry.put_key(KeyRecord(key_digest(key), account, created_at_ms=NOW))
        headers = {"X-API-Key": key}
        assert (await self.client.get("/v1/usage", headers=headers)).status_code == 200
        return headers

    async def used(self, headers: dict[str, str]) -> int:
        """Once every held request has reached Redis and been answered."""
        await asyncio.to_thread(self.proxy.wait_until_quiet)
        self.proxy.plan.clear()
        body = (await self.client.get("/v1/usage", headers=headers)).json()
        used: int = body["used"]
        return used


@pytest.fixture
async def api(proxy: LateProxy) -> AsyncIterator[Api]:
    settings = Settings(
        tiers=TIERS,
        upstash_redis_rest_url=proxy.url,
        upstash_redis_rest_token=SecretStr("test-token"),
        redis_namespace=f"lost{next(_namespaces)}",
        redis_timeout=TIMEOUT_S,
        redis_retry_budget=0.5,
    )
    parts = build(settings, clock=FakeClock(NOW))
    transport = httpx.ASGITransport(app=create_app(settings, parts=parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, parts, proxy)
    await asyncio.to_thread(proxy.wait_until_quiet)
    await parts.aclose()


LATE_ANSWER = Hold(after=1.0)  # runs and commits at once; the answer comes after the timeout
LATE_CALL = Hold(before=1.0)  # reaches Redis only after the gate has given up


async def test_an_answer_lost_once_is_asked_again_and_charged_once(api: Api) -> None:
    key = await api.key("free")
    api.proxy.hold(LATE_ANSWER)
    before = api.proxy.evalshas()
    response = await api.client.get("/v1/hello", headers=key)
    assert response.status_code == 200
    assert api.proxy.evalshas() - before == 2  # the lost call, and its retry
    assert await api.used(key) == 1


async def test_a_call_that_runs_late_behind_its_retry_charges_once(api: Api) -> None:
    key = await api.key("free")
    api.proxy.hold(LATE_CALL)
    assert (await api.client.get("/v1/hello", headers=key)).status_code == 200
    assert await api.used(key) == 1  # the late first call found its retry's record


@pytest.mark.parametrize("hold", [LATE_ANSWER, LATE_CALL], ids=["committed", "runs-late"])
async def test_a_decision_lost_for_the_whole_budget_is_refused_and_never_charged(
    api: Api, hold: Hold
) -> None:
    key = await api.key("free")  # fails closed
    api.proxy.hold(hold, hold, hold)  # every attempt; the refund goes through
    response = await api.client.get("/v1/hello", headers=key)
    assert response.status_code == 503
    assert await api.used(key) == 0


@pytest.mark.parametrize("hold", [LATE_ANSWER, LATE_CALL], ids=["committed", "runs-late"])
async def test_fail_open_after_a_lost_decision_serves_uncounted(api: Api, hold: Hold) -> None:
    key = await api.key("pro")  # on_error: allow
    api.proxy.hold(hold, hold, hold)
    assert (await api.client.get("/v1/hello", headers=key)).status_code == 200
    assert await api.used(key) == 0


async def test_a_keyed_request_lost_for_the_whole_budget_releases_its_key(api: Api) -> None:
    key = await api.key("free")
    api.proxy.hold(LATE_ANSWER, LATE_ANSWER, LATE_ANSWER)
    keyed = {**key, "Idempotency-Key": "order-9"}
    assert (await api.client.get("/v1/hello", headers=keyed)).status_code == 503
    assert await api.used(key) == 0
    retried = await api.client.get("/v1/hello", headers=keyed)  # not a 409 for a minute
    assert retried.status_code == 200
    assert await api.used(key) == 1


async def test_round_trips_per_admitted_request(api: Api) -> None:
    """1 without Idempotency-Key; 2 with one (the decision, then keeping the response); a
    replay 1. Counted as HTTP requests reaching the Upstash server."""
    key = await api.key("free")
    # Steady state: the scripts are loaded (EVALSHA's NOSCRIPT then EVAL, once per Redis).
    assert (
        await api.client.get("/v1/hello", headers={**key, "Idempotency-Key": "warm"})
    ).is_success
    counts = []
    for headers in (key, {**key, "Idempotency-Key": "rt"}, {**key, "Idempotency-Key": "rt"}):
        before = len(api.proxy.bodies)
        assert (await api.client.get("/v1/hello", headers=headers)).status_code == 200
        counts.append(len(api.proxy.bodies) - before)
    assert counts == [1, 2, 1]


def _busy(seconds: float) -> None:
    """Stands for the CPU work of other requests on the same event loop."""
    time.sleep(seconds)


async def test_a_busy_event_loop_is_not_taken_for_a_slow_redis(
    proxy: LateProxy, clock: FakeClock
) -> None:
    """Redis answers in 50 ms, but the loop is busy for 400 ms: the answer is waiting in the
    socket when the loop comes back, and it is a verdict, not a timeout."""
    store = UpstashStore.at(proxy.url, "test-token", namespace="busy", timeout_s=0.25)
    await seed(store)
    proxy.hold(Hold(after=0.05))
    start, _ = calendar_month(clock.now_ms())
    decision = asyncio.ensure_future(store.check(ask(clock)))
    await asyncio.sleep(0.01)  # the request is on its way
    _busy(0.4)
    assert (await decision).code == Code.ADMIT
    assert proxy.evalshas() == 1  # no retry was needed either
    assert await store.used("acct-1", start) == 1
    await store.aclose()
