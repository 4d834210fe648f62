"""Latency the gate adds: the example app, gated, against the same route with no gate.

Both apps are driven in-process through httpx's ASGI transport (no sockets), in interleaved
rounds whose order alternates, so drift in the machine's speed hits both alike. The tier
is huge in both burst and quota: every request is admitted and the full admit path runs.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from tiergate.config import Settings
from tiergate.keys import generate_key, key_digest
from tiergate.registry import Account, KeyRecord
from tiergate.web.example import create_app
from tiergate.wiring import Parts, build

from .report import Finding, Outcome, Table
from .stack import Stack

__all__ = ["measure"]

# The example app's routes name "free" and "pro", so both tiers must exist.
_HUGE = {"limit": 1_000_000_000, "price": 0, "burst": 1_000_000}
TIERS = json.dumps({"free": _HUGE, "pro": _HUGE})
ROUNDS = 20


@dataclass(frozen=True)
class _Timings:
    gated: list[float]  # seconds per request
    ungated: list[float]

    def median(self, which: str) -> float:
        samples: list[float] = getattr(self, which)
        return statistics.median(samples)

    def p99(self, which: str) -> float:
        samples: list[float] = getattr(self, which)
        return statistics.quantiles(samples, n=100)[98]


async def measure(stack: Stack, requests: int, upstash_requests: int) -> Outcome:
    in_process = Settings(tiers=TIERS, upstash_redis_rest_url=None, table=None)
    local = await _compare(in_process, requests, warmup=200)
    over_upstash = Settings(
        tiers=TIERS,
        table=None,
        upstash_redis_rest_url=stack.url,
        upstash_redis_rest_token=SecretStr(stack.token),
        redis_namespace="latency",
        redis_timeout=10,
    )
    remote = await _compare(over_upstash, upstash_requests, warmup=50)

    us = 1e6
    added = (local.median("gated") - local.median("ungated")) * us
    ratio = local.median("gated") / local.median("ungated")
    table = Table(
        f"5. Latency of the example app, gated vs no gate (GET /v1/hello, n={requests:,} each)",
        columns=("metric", "tiergate", "no gate", "target"),
    )
    table.add("in-process stores: median (us)", *_pair(local.median, us, ".0f"), "-")
    table.add("in-process stores: p99 (us)", *_pair(local.p99, us, ".0f"), "-")
    table.add("in-process stores: added by the gate, median (us)", f"{added:.0f}", "-", "-")
    table.add("in-process stores: ratio gated / no gate (median)", f"{ratio:.2f}", "1.00",
              "<= 1.15")  # fmt: skip
    ms = 1e3
    table.add(f"Upstash store, n={upstash_requests:,}: median (ms)",
              *_pair(remote.median, ms, ".2f"), "-")  # fmt: skip
    table.add(f"Upstash store, n={upstash_requests:,}: p99 (ms)", *_pair(remote.p99, ms, ".2f"),
              "-")  # fmt: skip
    remote_added = (remote.median("gated") - remote.median("ungated")) * ms
    table.add("Upstash store: added by the gate, median (ms)", f"{remote_added:.2f}", "-", "-")
    table.notes += [
        "times include httpx's in-process ASGI transport on both sides; the difference is"
        " the gate: key parse, store decision, RateLimit headers, settle",
        "Upstash rows: one loopback HTTP round trip to the local REST server, which shares"
        " this process's GIL, so they are an upper bound for a real network hop",
    ]
    return Outcome(
        [table],
        [
            Finding("in-process gate / same app ungated (median)", f"{ratio:.2f}x ({added:.0f} us)",
                    "no gate", "<= 1.15x", ratio <= 1.15),
            Finding("latency added over local Upstash (median)", f"{remote_added:.2f} ms",
                    "no gate", "-", None),
        ],
    )  # fmt: skip


def _pair(stat: Any, scale: float, spec: str) -> tuple[str, str]:
    return format(stat("gated") * scale, spec), format(stat("ungated") * scale, spec)


async def _compare(settings: Settings, requests: int, warmup: int) -> _Timings:
    gated: list[float] = []
    ungated: list[float] = []
    async with _gated_client(settings) as (g, headers), _client(_ungated_app()) as u:
        for client, hdrs in ((g, headers), (u, {})):
            for _ in range(warmup):
                await _timed(client, hdrs)
        per_round = max(1, requests // ROUNDS)
        for r in range(ROUNDS):
            order = [(g, headers, gated), (u, {}, ungated)]
            for client, hdrs, into in order if r % 2 == 0 else order[::-1]:
                into += [await _timed(client, hdrs) for _ in range(per_round)]
    return _Timings(gated, ungated)


async def _timed(client: httpx.AsyncClient, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = await client.get("/v1/hello", headers=headers)
    took = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET /v1/hello answered {response.status_code}: {response.text}")
    return took


@asynccontextmanager
async def _gated_client(
    settings: Settings,
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    parts = build(settings)
    key = await register(parts)
    try:
        async with _client(create_app(settings, parts=parts)) as client:
            first = await client.get("/v1/hello", headers={"X-API-Key": key})
            if "ratelimit" not in first.headers:
                raise RuntimeError("the gated app answered without RateLimit headers")
            yield client, {"X-API-Key": key}
    finally:
        await parts.aclose()


async def register(parts: Parts, account_id: str = "cus_latency") -> str:
    """A free account with one key in the parts' registry; the key."""
    key = generate_key(parts.key_env)
    await parts.registry.put_account(Account(account_id, tier="free"))
    await parts.registry.put_key(KeyRecord(key_digest(key), account_id, created_at_ms=0))
    return key


@asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        yield client


def _ungated_app() -> FastAPI:
    """The example's route, same path and body, with tiergate not installed."""
    app = FastAPI(title="ungated")

    @app.get("/v1/hello")
    async def hello() -> dict[str, Any]:
        return {"message": "hello", "tier": "free"}

    return app
