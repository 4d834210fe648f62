"""Fixtures for the local Upstash server: a real redis-server and the app on a loopback port.

The servers are session-scoped (starting redis costs ~50 ms); tests stay independent by
using the unique key prefix from the `key` fixture instead of flushing the database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from upstash_redis.asyncio import Redis

from tiergate_tools.localredis.background import serve_rest_in_thread
from tiergate_tools.localredis.server import create_app

TOKEN = "localredis-test-token"


@pytest.fixture(scope="session")
def rest_url(redis_addr: tuple[str, int]) -> Iterator[str]:
    with serve_rest_in_thread(create_app(*redis_addr, TOKEN)) as url:
        yield url


@pytest.fixture
async def http(rest_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the server, authorised, without base64 encoding."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=rest_url, headers=headers, timeout=15) as client:
        yield client


@pytest.fixture
async def upstash_client(rest_url: str) -> AsyncIterator[Redis]:
    """The real upstash-redis client (base64 encoding on, its default)."""
    client = Redis(rest_url, TOKEN, rest_retries=0, allow_telemetry=False)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def key() -> str:
    """A key prefix no other test uses."""
    return f"lr:{uuid.uuid4().hex[:12]}:"
