"""The hot-store backends the contract suites run against, as a table of `pytest.param` rows
(as the `limits` library's ALL_STORAGES), each opened with the rooms' own storage over what
its gate call writes: the alert room's queue (alerts/queue_*.py) and the meter room's index
(meter/index_*.py). Those cannot be opened apart from the store whose writes they read, so
this is their table too: a new hot-store backend is one class in store/, one queue and one
index, and one row here.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import pytest

from tiergate.alerts.queue import AlertQueue
from tiergate.alerts.queue_memory import MemoryAlertQueue
from tiergate.alerts.queue_upstash import UpstashAlertQueue
from tiergate.clock import FakeClock
from tiergate.meter.index import MeterIndex
from tiergate.meter.index_memory import MemoryMeterIndex
from tiergate.meter.index_upstash import UpstashMeterIndex
from tiergate.store import HotStore
from tiergate.store.bounded import BoundedRedis
from tiergate.store.memory import MemoryStore
from tiergate.store.upstash import UpstashStore, connect
from tiergate_tools.localredis.background import UpstashEndpoint

__all__ = ["ALL_HOT_STORES", "LONG_TTL_MS", "Backend", "Opened", "in_process_store"]

# Redis counts TTLs in real time and the in-process store on the fake clock, which tests move
# by minutes: long enough that nothing expires in either unless a test is about expiry.
LONG_TTL_MS = 400 * 86_400_000
_namespaces = itertools.count()


@dataclass(frozen=True)
class Opened:
    store: HotStore
    queue: AlertQueue  # the crossings the store's gate call queued
    index: MeterIndex  # the overage the store's gate call counted


def in_process_store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock, inflight_ttl_ms=LONG_TTL_MS, hot_state_ttl_ms=LONG_TTL_MS)


@asynccontextmanager
async def in_process(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Opened]:
    memory = in_process_store(clock)
    yield Opened(memory, MemoryAlertQueue(memory.fired), MemoryMeterIndex(memory.metered))


@asynccontextmanager
async def on_upstash(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Opened]:
    """A real redis-server behind the project's local Upstash REST server."""
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
    redis = connect(endpoint.url, endpoint.token)  # the rooms' client, as wiring shares one
    try:
        yield Opened(
            store,
            UpstashAlertQueue(BoundedRedis(redis, timeout_s=5), namespace=namespace),
            UpstashMeterIndex(BoundedRedis(redis, timeout_s=5), namespace=namespace),
        )
    finally:
        await store.aclose()
        await redis.close()


Backend = Callable[[pytest.FixtureRequest, FakeClock], AbstractAsyncContextManager[Opened]]

ALL_HOT_STORES = [pytest.param(in_process, id="memory"), pytest.param(on_upstash, id="upstash")]
