from __future__ import annotations

from collections.abc import Iterator

import pytest

from tiergate.localredis.background import UpstashEndpoint, local_upstash
from tiergate.localredis.binary import spawn_redis_server


@pytest.fixture(scope="session")
def redis_addr() -> Iterator[tuple[str, int]]:
    """A real redis-server; a missing binary fails the run loudly rather than skipping."""
    with spawn_redis_server() as addr:
        yield addr


@pytest.fixture(scope="session")
def upstash(redis_addr: tuple[str, int]) -> Iterator[UpstashEndpoint]:
    with local_upstash(*redis_addr, token="test-token") as endpoint:
        yield endpoint
