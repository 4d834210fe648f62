from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from tiergate.alerts.queue import AlertQueue
from tiergate.alerts.queue_memory import MemoryAlertQueue
from tiergate.alerts.queue_upstash import UpstashAlertQueue
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
def memory_reference(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock, inflight_ttl_ms=LONG_TTL_MS, hot_state_ttl_ms=LONG_TTL_MS)


@pytest.fixture
def reference(memory_reference: MemoryStore) -> HotStore:
    return memory_reference


@pytest.fixture
def reference_queue(memory_reference: MemoryStore) -> AlertQueue:
    return MemoryAlertQueue(memory_reference.fired)


@pytest.fixture(params=["memory", "upstash"])
async def backend(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[tuple[HotStore, AlertQueue]]:
    """The hot store and the alert room's queue over the same backend (the gate queues the
    crossings the queue reads)."""
    if request.param == "memory":
        memory = MemoryStore(clock, inflight_ttl_ms=LONG_TTL_MS, hot_state_ttl_ms=LONG_TTL_MS)
        yield memory, MemoryAlertQueue(memory.fired)
        return
    endpoint: UpstashEndpoint = request.getfixturevalue("upstash")
    # A namespace per test keeps tests apart on one shared redis-server.
    namespace = f"t{next(_namespaces)}"
    store = UpstashStore.at(
        endpoint.url,
        endpoint.token,
        namespace=namespace,
        timeout_s=5,
        inflight_ttl_ms=LONG_TTL_MS,
    )
    redis = connect(endpoint.url, endpoint.token)
    yield store, UpstashAlertQueue(redis, namespace=namespace, timeout_s=5)
    await store.aclose()
    await redis.close()


@pytest.fixture
def store(backend: tuple[HotStore, AlertQueue]) -> HotStore:
    return backend[0]


@pytest.fixture
def queue(backend: tuple[HotStore, AlertQueue]) -> AlertQueue:
    return backend[1]
