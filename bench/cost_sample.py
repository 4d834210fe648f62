"""A measured run of the example app, written as `tiergate costs --measurements` reads it.

`python -m bench.cost_sample OUT.json [REQUESTS]` serves the example API in-process over the
real stack (a redis-server behind the local Upstash REST server, the in-process registry),
calls every route with every tier's demo key REQUESTS times (200 by default, after a warm-up
of 20), and writes one RouteMeasurements per route and tier:

- wall_ms, cpu_ms: from the ASGI call into the app to its return (perf_counter, and this
  thread's CPU time), which is what the function spends on the request;
- response_bytes: the body and the headers the app sent;
- redis_commands: the commands the REST server received (one per `/` call, one per entry of
  a `/pipeline` or `/multi-exec`), as Upstash counts requests it serves;
- dynamodb_reads: calls the gate made to the registry (a hot-state miss is one GetItem,
  counted as one read unit: strongly consistent, an item under 4 KB).

It stands in for the measurement of live requests until that lands; its figures are this
machine's, not Lambda's (a Graviton instance at 512 MB has a fraction of a core).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from tiergate.config import Settings
from tiergate.observe.measurements import RouteMeasurements
from tiergate.web.example import create_app
from tiergate.wiring import build
from tiergate_tools.costs.recorded import dump_measurements
from tiergate_tools.localredis.background import serve_rest_in_thread
from tiergate_tools.localredis.binary import spawn_redis_server
from tiergate_tools.localredis.server import create_app as create_rest_app

__all__ = ["sample"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_TOKEN = "cost-sample"  # noqa: S105 (the local server's, on loopback)
# The packaged tiers with room to burst: the sample measures served requests, not 429s.
_TIERS = json.dumps(
    {
        "free": {"limit": 1000, "price": 0, "burst": 10_000},
        "pro": {"limit": 50000, "price": 29, "burst": 10_000},
        "enterprise": {"limit": 500000, "price": 199, "burst": 10_000},
    }
)
_PLAN = {"free": ["/v1/hello"], "pro": ["/v1/hello", "/v1/pro/hello"]}
_PLAN["enterprise"] = _PLAN["pro"]


@dataclass
class _Counts:
    commands: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    bytes: int = 0
    registry: int = 0


def _counting_rest(app: App, counts: _Counts) -> App:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        chunks: list[bytes] = []

        async def tap() -> Message:
            message = await receive()
            chunks.append(message.get("body", b""))
            return message

        await app(scope, tap, send)
        if scope["path"] in ("/pipeline", "/multi-exec"):
            counts.commands += len(json.loads(b"".join(chunks) or b"[]"))
        else:
            counts.commands += 1
        return None

    return wrapped


def _metered(app: App, counts: _Counts) -> App:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def count(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts.bytes += sum(len(k) + len(v) + 4 for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                counts.bytes += len(message.get("body", b""))
            await send(message)

        wall, cpu = time.perf_counter(), time.thread_time()
        await app(scope, receive, count)
        counts.wall_s += time.perf_counter() - wall
        counts.cpu_s += time.thread_time() - cpu

    return wrapped


class _CountingRegistry:
    """The registry, counting the gate's calls to it."""

    def __init__(self, inner: Any, counts: _Counts) -> None:
        self._inner, self._counts = inner, counts

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._counts.registry += 1
            return attribute(*args, **kwargs)

        return call


async def sample(requests: int = 200) -> list[RouteMeasurements]:
    counts = _Counts()
    rows = []
    with spawn_redis_server() as (host, port):
        rest = _counting_rest(create_rest_app(host, port, _TOKEN), counts)
        with serve_rest_in_thread(rest) as url:
            settings = Settings(
                upstash_redis_rest_url=url,
                upstash_redis_rest_token=SecretStr(_TOKEN),
                tiers=_TIERS,
            )
            plain = build(settings)
            keys = await plain.demo_keys()
            parts = build(settings, registry=_CountingRegistry(plain.registry, counts))
            app = _metered(create_app(settings, parts=parts), counts)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sample") as client:
                for tier, routes in _PLAN.items():
                    for route in routes:
                        headers = {"X-API-Key": keys[tier]}
                        for _ in range(20):
                            (await client.get(route, headers=headers)).raise_for_status()
                        before = _Counts(**vars(counts))
                        for _ in range(requests):
                            (await client.get(route, headers=headers)).raise_for_status()
                        rows.append(_row(route, tier, requests, before, counts))
            await parts.aclose()
            await plain.aclose()
    return rows


def _row(route: str, tier: str, n: int, before: _Counts, after: _Counts) -> RouteMeasurements:
    return RouteMeasurements(
        route=route,
        tier=tier,
        requests=n,
        wall_ms=round((after.wall_s - before.wall_s) / n * 1000, 4),
        cpu_ms=round((after.cpu_s - before.cpu_s) / n * 1000, 4),
        response_bytes=(after.bytes - before.bytes) / n,
        redis_commands=(after.commands - before.commands) / n,
        dynamodb_reads=(after.registry - before.registry) / n,
        dynamodb_writes=0.0,
        stripe_calls=0.0,
    )


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m bench.cost_sample OUT.json [REQUESTS]", file=sys.stderr)
        return 2
    rows = asyncio.run(sample(int(argv[1]) if len(argv) > 1 else 200))
    with open(argv[0], "w", encoding="utf-8") as out:
        out.write(dump_measurements(rows) + "\n")
    for r in rows:
        print(
            f"{r.route:<16} {r.tier:<11} wall {r.wall_ms:.3f} ms  cpu {r.cpu_ms:.3f} ms"
            f"  {r.response_bytes:.0f} B  redis {r.redis_commands:g}"
            f"  registry {r.dynamodb_reads:g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
