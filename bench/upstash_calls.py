"""The client side of `upstash_client.py`, run in a process of its own.

`python -m bench.upstash_calls KIND URL TOKEN CALLS` makes CALLS upstash-redis GETs one at a
time, then CALLS more from 32 concurrent tasks, through the KIND of transport ("httpx": the
client's own, "aiohttp": httpx-aiohttp's, "lean": as `store.upstash.connect` builds it), and
prints its CPU and wall time per call as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from upstash_redis.asyncio import Redis

__all__ = ["CONCURRENCY"]

CONCURRENCY = 32


async def _client(kind: str, url: str, token: str, calls: int) -> dict[str, float]:
    redis = _make_client(kind, url, token)
    await redis.set("bench:upstash-client", "x" * 32)
    warmup = 50
    for _ in range(warmup):
        await redis.get("bench:upstash-client")
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        await redis.get("bench:upstash-client")
    seq_cpu, seq_wall = time.process_time() - cpu, time.perf_counter() - wall

    async def worker(n: int) -> None:
        for _ in range(n):
            await redis.get("bench:upstash-client")

    per_task = calls // CONCURRENCY
    extra = calls - per_task * CONCURRENCY
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(per_task + (i < extra)) for i in range(CONCURRENCY)))
    con_cpu, con_wall = time.process_time() - cpu, time.perf_counter() - wall
    await redis.close()
    return {
        "seq_cpu_us": seq_cpu / calls * 1e6,
        "seq_wall_us": seq_wall / calls * 1e6,
        "con_cpu_us": con_cpu / calls * 1e6,
        "con_rate": calls / con_wall,
        "warmup": warmup + 1,
    }


def _make_client(kind: str, url: str, token: str) -> Redis:
    if kind == "lean":
        from tiergate.store.upstash import connect

        return connect(url, token)
    redis = Redis(url, token, rest_retries=0, allow_telemetry=False, read_your_writes=False)
    if kind == "aiohttp":
        import httpx
        from httpx_aiohttp import AiohttpTransport

        from tiergate.store.transport import use_client

        use_client(redis, httpx.AsyncClient(transport=AiohttpTransport(), timeout=10))
    return redis


def _child(argv: list[str]) -> int:
    kind, url, token, calls = argv
    result = asyncio.run(_client(kind, url, token, int(calls)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
