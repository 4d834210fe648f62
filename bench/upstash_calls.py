"""The client side of `upstash_client.py`, run in a process of its own.

`python -m bench.upstash_calls KIND URL TOKEN CALLS` makes CALLS calls one at a time, then
CALLS more from 32 concurrent tasks, and prints its CPU and wall time per call as one JSON
line. KIND is what one call is:

* "httpx": one upstash-redis GET, the stock client (its own httpx), as `store.upstash.connect`
  builds it for the cold paths: the bare call the gate is measured against;
* "lean": the same GET as bytes on the lean connection (`store.rest.RestClient`), the hot
  call's client with no script behind it;
* "gate": one `Gate.admit` of a known key in the steady state (its one EVALSHA of gate.lua on
  the lean connection), the gate as `wiring.build` makes it for Upstash.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable

__all__ = ["CONCURRENCY", "KINDS"]

CONCURRENCY = 32
KINDS = ("httpx", "lean", "gate")
_KEY = "bench:upstash-client"
_TIERS = '{"bench": {"limit": 1000000000, "price": 0, "burst": 1000000}}'

Call = Callable[[], Awaitable[object]]


async def _client(kind: str, url: str, token: str, calls: int) -> dict[str, float]:
    call, close = await _make_call(kind, url, token)
    warmup = 50
    for _ in range(warmup):
        await call()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        await call()
    seq_cpu, seq_wall = time.process_time() - cpu, time.perf_counter() - wall

    async def worker(n: int) -> None:
        for _ in range(n):
            await call()

    per_task = calls // CONCURRENCY
    extra = calls - per_task * CONCURRENCY
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(per_task + (i < extra)) for i in range(CONCURRENCY)))
    con_cpu, con_wall = time.process_time() - cpu, time.perf_counter() - wall
    await close()
    return {
        "seq_cpu_us": seq_cpu / calls * 1e6,
        "seq_wall_us": seq_wall / calls * 1e6,
        "con_cpu_us": con_cpu / calls * 1e6,
        "con_rate": calls / con_wall,
        "warmup": warmup + 1,
    }


async def _make_call(kind: str, url: str, token: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from upstash_redis.asyncio import Redis

    # The stock client, built as store.upstash.connect builds it (spelled out, so that the
    # same call can be measured against an older tiergate too).
    redis = Redis(url, token, rest_retries=0, allow_telemetry=False, read_your_writes=False)
    await redis.set(_KEY, "x" * 32)  # one call more, counted in the warm-up
    if kind == "httpx":
        return (lambda: redis.get(_KEY)), redis.close
    await redis.close()
    if kind == "lean":
        from tiergate.store.rest import RestClient

        rest = RestClient(url, token)
        body = json.dumps(["GET", _KEY]).encode()
        return (lambda: rest.call(body)), rest.aclose
    if kind == "gate":
        return await _gate(url, token)
    raise SystemExit(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")


async def _gate(url: str, token: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from pydantic import SecretStr

    from tiergate.config import Settings
    from tiergate.gate import Requirement
    from tiergate.keys import generate_key, key_digest
    from tiergate.outcomes import Admitted
    from tiergate.registry import Account, KeyRecord
    from tiergate.wiring import build

    settings = Settings(
        tiers=_TIERS,
        table=None,
        upstash_redis_rest_url=url,
        upstash_redis_rest_token=SecretStr(token),
        redis_namespace="bench-gate",
        redis_timeout=10,
    )
    parts = build(settings)
    key = generate_key(parts.key_env)
    await parts.registry.put_account(Account("cus_benchgate", tier="bench"))
    await parts.registry.put_key(KeyRecord(key_digest(key), "cus_benchgate", created_at_ms=0))
    need = Requirement()

    async def admit() -> None:
        if not isinstance(await parts.gate.admit(key, need), Admitted):
            raise RuntimeError("a steady-state decision was denied")

    await admit()  # the key's first use: its miss path and write-through, not the steady state
    return admit, parts.aclose


def _child(argv: list[str]) -> int:
    kind, url, token, calls = argv
    result = asyncio.run(_client(kind, url, token, int(calls)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
