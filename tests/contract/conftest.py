from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tiergate.alerts.queue import AlertQueue
from tiergate.alerts.queue_memory import MemoryAlertQueue
from tiergate.clock import FakeClock
from tiergate.meter.index import MeterIndex
from tiergate.meter.index_memory import MemoryMeterIndex
from tiergate.store import HotStore
from tiergate.store.memory import MemoryStore

from .hot_stores import ALL_HOT_STORES, Backend, Opened, in_process_store

NOW = 1_763_208_000_000  # 2025-11-15T12:00:00Z


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def memory_reference(clock: FakeClock) -> MemoryStore:
    return in_process_store(clock)


@pytest.fixture
def reference(memory_reference: MemoryStore) -> HotStore:
    return memory_reference


@pytest.fixture
def reference_queue(memory_reference: MemoryStore) -> AlertQueue:
    return MemoryAlertQueue(memory_reference.fired)


@pytest.fixture
def reference_index(memory_reference: MemoryStore) -> MeterIndex:
    return MemoryMeterIndex(memory_reference.metered)


@pytest.fixture(params=ALL_HOT_STORES)
async def backend(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Opened]:
    """The hot store and the rooms' storage over the same backend (the gate queues the
    crossings the queue reads, and counts the overage the index lists)."""
    opener: Backend = request.param
    async with opener(request, clock) as opened:
        yield opened


@pytest.fixture
def store(backend: Opened) -> HotStore:
    return backend.store


@pytest.fixture
def queue(backend: Opened) -> AlertQueue:
    return backend.queue


@pytest.fixture
def index(backend: Opened) -> MeterIndex:
    return backend.index
