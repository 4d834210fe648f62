from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from tiergate.clock import FakeClock
from tiergate.store import HotStore
from tiergate.store.memory import MemoryStore
from tiergate.store.upstash import UpstashStore, connect
from tiergate_tools.localredis.background import UpstashEndpoint

NOW = 1_763_208_000_000  # 2025-11-15T12:00:00Z
# Redis counts TTLs in real time and the in-process store on the fake clock, which tests move
# by minutes: long enough that nothing expires in either unless a test is about expiry.
LONG_TTL_MS = 400 * 86_400_000
_namespaces = itertools.count()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def reference(clock: FakeClock) -> HotStore:
    return MemoryStore(clock, inflight_ttl_ms=LONG_TTL_MS, hot_state_ttl_ms=LONG_TTL_MS)


@pytest.fixture(params=["memory", "upstash"])
async def store(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[HotStore]:
    if request.param == "memory":
        yield MemoryStore(clock, inflight_ttl_ms=LONG_TTL_MS, hot_state_ttl_ms=LONG_TTL_MS)
        return
    endpoint: UpstashEndpoint = request.getfixturevalue("upstash")
    # A namespace per test keeps tests apart on one shared redis-server.
    store = UpstashStore(
        connect(endpoint.url, endpoint.token),
        namespace=f"t{next(_namespaces)}",
        timeout_s=5,
        inflight_ttl_ms=LONG_TTL_MS,
    )
    yield store
    await store.aclose()
