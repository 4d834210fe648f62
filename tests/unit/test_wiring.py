"""`wiring.build` keeps the stores it is given."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.registry.memory import MemoryRegistry
from tiergate.store.memory import MemoryStore
from tiergate.wiring import build


def test_an_empty_injected_store_is_kept() -> None:
    # An in-process store with nothing in it has len() 0: it is still the store given.
    clock = FakeClock(0)
    store, registry = MemoryStore(clock), MemoryRegistry(clock)
    settings = Settings(
        upstash_redis_rest_url="http://127.0.0.1:9", upstash_redis_rest_token=SecretStr("t")
    )
    parts = build(settings, clock=clock, store=store, registry=registry)
    try:
        assert parts.store is store
        assert parts.registry is registry
    finally:
        asyncio.run(parts.aclose())
