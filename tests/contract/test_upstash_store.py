"""What only the Upstash store has: scripts named by SHA, and failures turned into 503s."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.decision import Check, Code
from tiergate.errors import StoreUnavailable
from tiergate.gate import Requirement
from tiergate.hotstate import usage_alerts
from tiergate.keys import generate_key, key_digest
from tiergate.periods import calendar_month
from tiergate.registry import Account, KeyRecord
from tiergate.registry.memory import MemoryRegistry
from tiergate.store.rest import RestClient
from tiergate.store.scripts import COMPLETE, GATE, REFUND
from tiergate.store.upstash import UpstashStore, connect
from tiergate.web.example import create_app
from tiergate.wiring import Parts, build
from tiergate_tools.localredis.background import UpstashEndpoint

from .conftest import NOW
from .test_hot_store import ACCOUNT, ask, seed

_namespaces = itertools.count()


async def test_script_load_returns_the_sha_the_code_computed(upstash: UpstashEndpoint) -> None:
    redis = connect(upstash.url, upstash.token)
    for script in (GATE, REFUND, COMPLETE):
        assert await redis.script_load(script.source) == script.sha
    await redis.close()


async def test_evalsha_falls_back_to_eval_after_a_script_flush(
    upstash: UpstashEndpoint, clock: FakeClock
) -> None:
    redis = connect(upstash.url, upstash.token)
    store = UpstashStore(
        redis, RestClient(upstash.url, upstash.token), namespace="flush", timeout_s=5
    )
    await seed(store)
    await redis.script_flush()
    assert (await store.check(ask(clock))).code == Code.ADMIT
    assert await redis.script_exists(GATE.sha) == [1]  # EVAL cached it again
    await store.aclose()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


async def test_a_silent_redis_fails_within_the_timeout(
    silent_server: str, clock: FakeClock
) -> None:
    store = UpstashStore.at(silent_server, "t", timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.2s"):
        await store.check(ask(clock))
    assert time.monotonic() - started < 1.0


async def test_a_refused_connection_is_unavailable(clock: FakeClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    store = UpstashStore.at(f"http://127.0.0.1:{closed_port}", "t", timeout_s=2)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        await store.check(ask(clock))


async def test_a_wrong_token_is_unavailable_not_a_crash(
    upstash: UpstashEndpoint, clock: FakeClock
) -> None:
    store = UpstashStore.at(upstash.url, "wrong-token", timeout_s=5)
    with pytest.raises(StoreUnavailable):
        await store.check(ask(clock))


@pytest.fixture
async def upstash_app(upstash: UpstashEndpoint) -> AsyncIterator[Harness]:
    """The example app on the Upstash store, with a free account capped at 10 requests."""
    settings = Settings(
        upstash_redis_rest_url=upstash.url,
        upstash_redis_rest_token=SecretStr(upstash.token),
        redis_namespace=f"http{next(_namespaces)}",
        redis_timeout=5,
    )
    parts = build(settings, clock=FakeClock(NOW))
    key = generate_key("test")
    await parts.registry.put_account(Account("acct-http", tier="free", limit_override=10))
    await parts.registry.put_key(KeyRecord(key_digest(key), "acct-http", created_at_ms=NOW))
    transport = httpx.ASGITransport(app=create_app(settings, parts=parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Harness(client, {"X-API-Key": key}, parts)
    await parts.aclose()


@dataclass
class Harness:
    client: httpx.AsyncClient
    headers: dict[str, str]
    parts: Parts


async def test_steady_state_reads_the_registry_once_per_key(upstash_app: Harness) -> None:
    h = upstash_app
    statuses = [(await h.client.get("/v1/hello", headers=h.headers)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]  # burst 5 at a frozen clock
    assert h.parts.registry.reads == 1  # type: ignore[attr-defined]
    h.parts.clock.advance(1000)  # type: ignore[attr-defined]
    assert (await h.client.get("/v1/usage", headers=h.headers)).json()["used"] == 5


async def test_concurrent_http_requests_share_one_quota(upstash_app: Harness) -> None:
    h = upstash_app
    await h.client.get("/v1/usage", headers=h.headers)  # loads the hot state
    clock = h.parts.clock
    assert isinstance(clock, FakeClock)
    statuses: list[int] = []
    for _ in range(4):  # burst 5: step the clock a second between waves of 10 concurrent calls
        clock.advance(1000)
        wave = await asyncio.gather(
            *(h.client.get("/v1/hello", headers=h.headers) for _ in range(10))
        )
        statuses += [r.status_code for r in wave]
    assert statuses.count(200) == 10
    assert statuses.count(429) == 30


class SkewedClock:
    """The machine's clock, off by `offset_ms`: another instance whose clock drifted."""

    def __init__(self, offset_ms: int) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms


async def test_a_caller_whose_clock_lags_is_not_refused_for_burst(
    upstash: UpstashEndpoint,
) -> None:
    """Two instances 1.5 s apart against one Redis: the one behind used to get 429s at any
    burst size, since its `now` trailed the arrival time the other had stored."""
    registry = MemoryRegistry()
    settings = Settings(tiers='{"free": {"limit": 1000, "price": 0, "burst": 1000}}')
    key = generate_key("test")
    await registry.put_account(Account("acct-skew", tier="free"))
    await registry.put_key(KeyRecord(key_digest(key), "acct-skew", created_at_ms=NOW))

    def instance(offset_ms: int) -> Parts:
        store = UpstashStore.at(upstash.url, upstash.token, namespace="skew", timeout_s=5)
        return build(settings, clock=SkewedClock(offset_ms), store=store, registry=registry)

    ahead, behind = instance(+1500), instance(0)
    outcomes = [await ahead.gate.admit(key, Requirement()) for _ in range(3)]
    outcomes += [await behind.gate.admit(key, Requirement()) for _ in range(3)]
    assert [type(o).__name__ for o in outcomes] == ["Admitted"] * 6
    for parts in (ahead, behind):
        await parts.aclose()


async def test_redis_decides_on_its_own_clock_unless_told_otherwise(
    upstash: UpstashEndpoint, clock: FakeClock
) -> None:
    store = UpstashStore.at(upstash.url, upstash.token, namespace="time", timeout_s=5)
    await seed(store)
    verdict = await store.check(Check("digest-1"))  # no now: Redis TIME
    assert abs(verdict.now_ms - time.time_ns() // 1_000_000) < 5_000
    told = await store.check(ask(clock))  # a test's fake clock, 2025-11-15
    assert told.now_ms == NOW
    await store.aclose()


@pytest.mark.parametrize(
    "instant",
    [
        "2025-12-31T23:59:59.999",
        "2026-01-01T00:00:00",
        "2028-02-29T12:00:00",
        "2100-02-28T23:59:59",
        "2000-03-01T00:00:00",
    ],
)
async def test_the_script_computes_calendar_months_as_python_does(
    upstash: UpstashEndpoint, clock: FakeClock, instant: str
) -> None:
    at = int(datetime.fromisoformat(instant).replace(tzinfo=UTC).timestamp() * 1000)
    store = UpstashStore.at(upstash.url, upstash.token, namespace="months", timeout_s=5)
    await seed(store, replace(ACCOUNT, limit=10**9, burst=10**6))
    clock.set(at)
    verdict = await store.check(ask(clock))
    assert (verdict.period_start_ms, verdict.period_end_ms) == calendar_month(at)
    await store.aclose()


async def test_hot_records_are_written_with_the_hot_state_ttl(upstash: UpstashEndpoint) -> None:
    redis = connect(upstash.url, upstash.token)
    store = UpstashStore(
        redis,
        RestClient(upstash.url, upstash.token),
        namespace="hotttl",
        timeout_s=5,
        hot_state_ttl_ms=300_000,
    )
    await seed(store)
    await store.write(keys={"forged": None})
    for name, ttl_ms in (
        ("hotttl:k:digest-1", 300_000),
        ("hotttl:a:acct-1", 300_000),
        ("hotttl:k:forged", 60_000),
    ):
        assert ttl_ms - 5_000 < await redis.pttl(name) <= ttl_ms
    await store.aclose()


async def test_a_flood_of_429s_at_the_ceiling_reads_no_alert_mark(upstash: UpstashEndpoint) -> None:
    """At the ceiling a denial reads the quota and the bucket and nothing more: the request
    that reached the ceiling fired its alert, so the alert mark is not read again."""
    redis = connect(upstash.url, upstash.token)
    store = UpstashStore(
        redis, RestClient(upstash.url, upstash.token), namespace="flood", timeout_s=5
    )
    clock = FakeClock(NOW)
    account = replace(ACCOUNT, limit=10, burst=1_000_000, alerts=usage_alerts(10, (80, 100), 0))
    await seed(store, account)
    for _ in range(10):
        await store.check(ask(clock))

    async def reads() -> tuple[int, int]:
        """GET and MGET calls so far."""
        stats = str(await redis.execute(["INFO", "commandstats"])).split()

        def calls(command: str) -> int:
            line = next((part for part in stats if part.startswith(f"cmdstat_{command}:")), "")
            return int(line.split("calls=")[1].split(",")[0]) if line else 0

        return calls("get"), calls("mget")

    gets, mgets = await reads()
    verdicts = [await store.check(ask(clock)) for _ in range(50)]
    assert {(v.code, v.alerts) for v in verdicts} == {(Code.QUOTA, "")}
    # Per denial one MGET of the quota and the bucket, and no GET (the alert mark's read).
    assert await reads() == (gets, mgets + 50)
    await store.aclose()
