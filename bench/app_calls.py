"""The whole app over Upstash: round trips and Redis bytes per request, and the gate's time
against one bare upstash-redis call.

Requests go through the example app (httpx's in-process ASGI transport), its gate on the
local Upstash server; round trips are HTTP requests counted at that server, bytes are
redis-server's own MEMORY USAGE of what a request leaves behind.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
from pydantic import SecretStr

from tiergate.config import Settings
from tiergate.gate import Gate, Requirement
from tiergate.outcomes import Admitted
from tiergate.web.example import create_app
from tiergate.wiring import build
from tiergate_tools.localredis.resp import RespPool

from .latency import TIERS, register
from .report import Finding, Outcome, Table
from .stack import Stack

__all__ = ["measure"]

_NS = "appcalls"
ROUNDS = 10


async def measure(stack: Stack, requests: int) -> Outcome:
    settings = Settings(
        tiers=TIERS,
        table=None,
        upstash_redis_rest_url=stack.url,
        upstash_redis_rest_token=SecretStr(stack.token),
        redis_namespace=_NS,
        redis_timeout=10,
    )
    parts = build(settings)
    key = await register(parts, "cus_appcalls")
    headers = {"X-API-Key": key}
    transport = httpx.ASGITransport(app=create_app(settings, parts=parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def get(extra: dict[str, str]) -> httpx.Response:
            response = await client.get("/v1/hello", headers={**headers, **extra})
            if response.status_code != 200:
                raise RuntimeError(f"/v1/hello answered {response.status_code}")
            return response

        # The key's first use (its miss path) and the first kept response (complete.lua's
        # NOSCRIPT, once per Redis) are not the steady state.
        await get({})
        await get({"Idempotency-Key": str(uuid.uuid4())})

        async def trips(extra: Callable[[int], dict[str, str]]) -> float:
            stack.counter.reset()
            for i in range(requests):
                await get(extra(i))
            return stack.counter.total / requests

        plain = await trips(lambda _: {})
        keys = [str(uuid.uuid4()) for _ in range(requests)]
        keyed = await trips(lambda i: {"Idempotency-Key": keys[i]})
        replays = await trips(lambda i: {"Idempotency-Key": keys[i]})
        replayed = (await get({"Idempotency-Key": keys[0]})).headers.get("idempotent-replayed")
    kept = await _kept_bytes(stack)
    gate_ms, call_ms = await _gate_against_a_call(stack, parts.gate, key, requests)
    await parts.aclose()

    table = Table(f"6. The app over Upstash: per request (n={requests:,} each)")
    table.add("round trips, admitted, no Idempotency-Key", f"{plain:.3f}", "-", "1")
    table.add("round trips, admitted, with a new Idempotency-Key", f"{keyed:.3f}", "-", "<= 2")
    table.add("round trips, a replay of a kept response", f"{replays:.3f}", "-", "-")
    table.add("Redis bytes per kept response (MEMORY USAGE, median)", f"{kept} B", "-", "-")
    ratio = gate_ms / call_ms
    table.add("Gate.admit over Upstash, median (ms)", f"{gate_ms:.3f}", f"{call_ms:.3f}", "-")
    table.add("ratio: the gate / one bare upstash-redis call", f"{ratio:.2f}", "1.00", "<= 1.05")
    table.notes += [
        f"a replay answers with Idempotent-Replayed: {replayed}; the kept response here is"
        " /v1/hello's JSON (33 bytes) with its content-type",
        "bare call: one upstash-redis GET on the same client and server, interleaved with the"
        " gate's decisions in alternating rounds; the gate's call is one EVALSHA of gate.lua",
    ]
    return Outcome(
        [table],
        [
            Finding("round trips per admitted request with Idempotency-Key", f"{keyed:.2f}",
                    "-", "<= 2", keyed <= 2.0),
            Finding("Redis bytes per kept response", f"{kept} B", "-", "-", None),
            Finding("gate over Upstash / one bare call (median)", f"{ratio:.2f}x", "1.00x",
                    "<= 1.05x", ratio <= 1.05),
        ],
    )  # fmt: skip


async def _kept_bytes(stack: Stack) -> int:
    """MEMORY USAGE of each kept response (the account's Idempotency-Key records)."""
    pool = RespPool(stack.redis_host, stack.redis_port)
    try:
        names: list[bytes] = []
        cursor = b"0"
        while True:
            reply = await pool.execute("SCAN", cursor, "MATCH", f"{_NS}:a:*:i:*", "COUNT", 1000)
            assert isinstance(reply, list)
            next_cursor, batch = reply[0], reply[1]
            assert isinstance(next_cursor, bytes)
            assert isinstance(batch, list)
            cursor = next_cursor
            names += [n for n in batch if isinstance(n, bytes)]
            if cursor == b"0":
                break
        if not names:
            raise RuntimeError("no kept response found in Redis")
        sizes = await pool.execute_many([["MEMORY", "USAGE", n] for n in names])
        return int(statistics.median(int(s) for s in sizes if isinstance(s, int)))
    finally:
        await pool.close()


async def _gate_against_a_call(
    stack: Stack, gate: Gate, key: str, requests: int
) -> tuple[float, float]:
    """Median ms of Gate.admit and of one bare GET, on the same client stack, interleaved."""
    redis = stack.client()
    need = Requirement()

    async def admit() -> None:
        if not isinstance(await gate.admit(key, need), Admitted):
            raise RuntimeError("a steady-state decision was denied")

    async def bare() -> None:
        await redis.get(f"{_NS}:bare")

    samples: dict[str, list[float]] = {"gate": [], "bare": []}
    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [("gate", admit), ("bare", bare)]
    per_round = max(1, requests // ROUNDS)
    for r in range(ROUNDS):
        for name, step in steps if r % 2 == 0 else steps[::-1]:
            for _ in range(per_round):
                started = time.perf_counter()
                await step()
                samples[name].append(time.perf_counter() - started)
    await redis.close()
    return (statistics.median(samples["gate"]) * 1000, statistics.median(samples["bare"]) * 1000)
