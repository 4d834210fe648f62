"""Fixtures for HTTP-level tests of the gate: in-process stores, a frozen clock, no sleeps."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import pytest
from fastapi import FastAPI, HTTPException

from tiergate import Settings, install, requires
from tiergate.clock import FakeClock
from tiergate.keys import generate_key, key_digest
from tiergate.meter.index_memory import MemoryMeterIndex
from tiergate.registry import Account, KeyRecord
from tiergate.registry.memory import MemoryRegistry
from tiergate.store.memory import MemoryStore
from tiergate.web.example import create_app
from tiergate.wiring import Parts, build, hot_store

from ..support.faults import FaultyStore

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE = "urn:tiergate:problem:"


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """A UTC instant in milliseconds since the epoch."""
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * 1000


NOW_MS = ms(2026, 11, 15, 12)  # mid-month: 15.5 days left in a 30-day month
MONTH_END_MS = ms(2026, 12, 1)
NOVEMBER_S = 30 * 86_400
DAY_MS = 86_400_000


def tiers_json(**tiers: Mapping[str, Any]) -> str:
    """Inline tiers JSON, in keyword order (lowest tier first)."""
    return json.dumps(tiers)


# Burst is high so that only what a test is about can deny.
ROOMY_TIERS = tiers_json(
    free={"limit": 1000, "price": 0, "burst": 1000},
    pro={"limit": 50_000, "price": 29, "burst": 1000},
)


def ceil_s(delta_ms: int) -> int:
    return -(-delta_ms // 1000)


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """An RFC 9457 problem from the gate, with every field it must carry; returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_TYPE + slug
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def extra_app(settings: Settings, *, parts: Parts) -> FastAPI:
    """An app with the routes the example lacks: failures, a feature, a costly route."""
    app = FastAPI()
    failures = {"flaky": 1}  # /v1/flaky fails this many times, then succeeds

    @app.get("/v1/hello", dependencies=[requires("free")])
    async def hello() -> dict[str, str]:
        return {"message": "hello"}

    @app.get("/v1/status/{code}", dependencies=[requires()])
    async def status(code: int) -> dict[str, int]:
        if code >= 400:
            raise HTTPException(status_code=code, detail=f"answered {code}")
        return {"code": code}

    @app.get("/v1/crash", dependencies=[requires()])
    async def crash() -> None:
        raise RuntimeError("the endpoint blew up")

    @app.get("/v1/flaky", dependencies=[requires()])
    async def flaky() -> dict[str, str]:
        if failures["flaky"] > 0:
            failures["flaky"] -= 1
            raise HTTPException(status_code=500, detail="transient failure")
        return {"message": "ok"}

    @app.get("/v1/export", dependencies=[requires(feature="exports")])
    async def export() -> dict[str, str]:
        return {"export": "done"}

    @app.get("/v1/expensive", dependencies=[requires(cost=5)])
    async def expensive() -> dict[str, str]:
        return {"message": "that was expensive"}

    install(app, settings, parts=parts)
    return app


AppFactory = Callable[..., FastAPI]


@dataclass
class Harness:
    clock: FakeClock
    settings: Settings
    parts: Parts
    store: FaultyStore  # the configured hot store, which a test can take down
    app: FastAPI
    client: httpx.AsyncClient
    _ids: Iterator[int] = field(default_factory=itertools.count)

    @property
    def registry(self) -> MemoryRegistry:
        registry = self.parts.registry
        assert isinstance(registry, MemoryRegistry)
        return registry

    async def add_account(self, tier: str = "free", account_id: str = "", **fields: Any) -> str:
        """Register an account with one fresh key; returns the key."""
        account_id = account_id or f"acct-{tier}-{next(self._ids)}"
        await self.registry.put_account(Account(account_id=account_id, tier=tier, **fields))
        return await self.add_key(account_id)

    async def add_key(self, account_id: str, **fields: Any) -> str:
        key = generate_key("test")
        record = KeyRecord(
            digest=key_digest(key),
            account_id=account_id,
            created_at_ms=self.clock.now_ms(),
            **fields,
        )
        await self.registry.put_key(record)
        return key

    async def call(
        self,
        path: str,
        key: str | bytes | None = None,
        *,
        method: str = "GET",
        headers: Mapping[str, str | bytes] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if key is not None:
            sent["X-API-Key"] = key
        raw = [(name.encode(), _bytes(value)) for name, value in sent.items()]
        return await self.client.request(method, path, headers=raw)

    async def usage(self, key: str) -> dict[str, Any]:
        response = await self.call("/v1/usage", key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def used(self, key: str) -> int:
        used: int = (await self.usage(key))["used"]
        return used


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


class MakeHarness(Protocol):
    def __call__(
        self,
        *,
        app_factory: AppFactory = ...,
        raise_app_exceptions: bool = ...,
        **settings: Any,
    ) -> Awaitable[Harness]: ...


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from constructor arguments only, never from this process's environment."""
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_", "AWS_")):
            monkeypatch.delenv(name)


@pytest.fixture
async def make_harness() -> AsyncIterator[MakeHarness]:
    clients: list[httpx.AsyncClient] = []

    async def make(
        *,
        app_factory: AppFactory = create_app,
        raise_app_exceptions: bool = True,
        **settings: Any,
    ) -> Harness:
        clock = FakeClock(NOW_MS)
        built = Settings(**settings)
        inner = hot_store(built.gate, clock=clock)
        store = FaultyStore(inner)
        # The meter index reads what the wrapped store counts (on Upstash, wiring's own reads it).
        index = MemoryMeterIndex(inner.metered) if isinstance(inner, MemoryStore) else None
        parts = build(built, clock=clock, store=store, meter_index=index)
        app = app_factory(built, parts=parts)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        client = httpx.AsyncClient(transport=transport, base_url="http://test")
        clients.append(client)
        return Harness(clock, built, parts, store, app, client)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def h(make_harness: MakeHarness) -> Harness:
    """The example app on the packaged tiers (free: 1000/month, burst 5)."""
    return await make_harness()


@pytest.fixture
async def hx(make_harness: MakeHarness) -> Harness:
    """The app with extra routes (failures, a feature, a cost-5 route), burst out of the way."""
    return await make_harness(app_factory=extra_app, raise_app_exceptions=False, tiers=ROOMY_TIERS)
