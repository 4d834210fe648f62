"""tiergate beside the rate limiters its users would otherwise pick, in one run, as ratios.

The same FastAPI route (GET /v1/ping answering a small JSON object) is served by one app per
variant. In-process (no network anywhere): the app ungated; tiergate on its in-process
store; slowapi (memory storage); `limits`' FixedWindow on its memory storage as a
dependency; fastapi-limiter over pyrate-limiter's in-memory bucket. Through the local
Upstash REST server over a real redis-server: one bare upstash-redis GET per request (the
floor: one REST round trip), tiergate on its Upstash store, upstash-ratelimit (a token
bucket per second, then a fixed window per month: two EVALs).

Every limiter enforces a per-second burst and a monthly quota, sized so that nothing is ever
denied (a denial aborts the run): each request runs its limiter's full admit path. Apps are
driven in-process through httpx's ASGI transport, sequentially. Each round runs every
variant of a group in blocks of `block` requests, the order rotating from block to block
and reversed on odd rounds, so a slow second on a shared machine lands on all of them
alike. A variant's ratio is the median over rounds of its round median divided by the
reference's round median in the same round (ungated in-process, the bare GET over
Upstash): drift in the machine's speed cancels; absolute microseconds do not compare
across machines or runs, ratios do.

    python -m bench.peers [--rounds 5] [--requests 600] [--block 100] [--only inprocess]

Peers missing from the environment are skipped with the reason printed (they come with the
project's `dev` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import SecretStr

from tiergate import Settings, install

from .report import Finding, Outcome, Table, render

__all__ = ["measure", "missing_peers"]

PATH = "/v1/ping"
BURST = 1_000_000  # per second: never reached
QUOTA = 1_000_000_000  # per month: never reached
_PEERS = {  # import name -> what to install
    "slowapi": "slowapi",
    "limits": "limits",
    "fastapi_limiter": "fastapi-limiter",
    "upstash_ratelimit": "upstash-ratelimit",
}

Closer = Callable[[], Awaitable[None]]


@dataclass
class _Variant:
    name: str
    app: FastAPI
    headers: dict[str, str]
    closers: list[Closer] = field(default_factory=list)


def missing_peers() -> list[str]:
    """The peers' packages this environment lacks (empty: the table can run)."""
    return [pip for module, pip in _PEERS.items() if importlib.util.find_spec(module) is None]


def _route(app: FastAPI, dependencies: Sequence[Any] = ()) -> FastAPI:
    @app.get(PATH, dependencies=list(dependencies))
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


def _caller(request: Request) -> str:
    return request.headers.get("x-api-key", "anonymous")


async def _ungated() -> _Variant:
    return _Variant("ungated", _route(FastAPI()), {"X-API-Key": "bench"})


async def _tiergate(name: str, url: str = "", token: str = "") -> _Variant:
    tiers = json.dumps({"free": {"limit": QUOTA, "price": 0, "burst": BURST}})
    if url:
        settings = Settings(
            tiers=tiers,
            table=None,
            upstash_redis_rest_url=url,
            upstash_redis_rest_token=SecretStr(token),
            redis_namespace=f"peers{secrets.token_hex(3)}",
            redis_timeout=10,  # the REST server shares this process: no spurious timeouts
        )
    else:
        settings = Settings(tiers=tiers, table=None, upstash_redis_rest_url=None)
    app = _route(FastAPI())
    parts = install(app, settings)
    new = await parts.admin().create_key(f"peers-{secrets.token_hex(4)}", "free", label="bench")
    return _Variant(name, app, {"X-API-Key": new.key}, [parts.aclose])


async def _slowapi() -> _Variant:
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded

    limiter = Limiter(key_func=_caller, storage_uri="memory://")
    app = FastAPI()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]

    @app.get(PATH)
    @limiter.limit(f"{BURST}/second;{QUOTA}/month")
    async def ping(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return _Variant("slowapi (memory)", app, {"X-API-Key": "bench"})


async def _limits_fixed() -> _Variant:
    from limits import RateLimitItemPerMonth, RateLimitItemPerSecond
    from limits.aio import storage, strategies

    limiter = strategies.FixedWindowRateLimiter(storage.MemoryStorage())
    items = (RateLimitItemPerSecond(BURST), RateLimitItemPerMonth(QUOTA))

    async def limited(request: Request) -> None:
        who = _caller(request)
        for item in items:  # the burst, then the quota
            if not await limiter.hit(item, "ping", who):
                raise HTTPException(status_code=429, detail="rate limit exceeded")

    return _Variant("limits FixedWindow (memory)", _route(FastAPI(), [Depends(limited)]),
                    {"X-API-Key": "bench"})  # fmt: skip


async def _fastapi_limiter() -> _Variant:
    from fastapi_limiter.depends import RateLimiter
    from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate

    bucket = InMemoryBucket([Rate(BURST, Duration.SECOND), Rate(QUOTA, Duration.DAY * 30)])

    async def identify(request: Request) -> str:
        return _caller(request)

    dependency = RateLimiter(limiter=Limiter(bucket), identifier=identify)
    return _Variant("fastapi-limiter (memory)", _route(FastAPI(), [Depends(dependency)]),
                    {"X-API-Key": "bench"})  # fmt: skip


def _upstash_client(url: str, token: str) -> Any:
    """An upstash-redis client built as tiergate builds its own, so that client settings are
    not a difference between the variants."""
    from tiergate.store.upstash import connect

    return connect(url, token)


async def _upstash_get(url: str, token: str) -> _Variant:
    redis = _upstash_client(url, token)

    async def one_call(request: Request) -> None:
        await redis.get(f"peers:floor:{_caller(request)}")

    app = _route(FastAPI(), [Depends(one_call)])
    return _Variant("one upstash-redis GET", app, {"X-API-Key": "bench"}, [redis.close])


async def _upstash_ratelimit(url: str, token: str) -> _Variant:
    from upstash_ratelimit import FixedWindow, TokenBucket
    from upstash_ratelimit.asyncio import Ratelimit

    # Its scripts open with `#!lua flags=allow-key-locking`, which only Upstash's own server
    # knows; redis-server refuses the flag. The same scripts without it.
    for algorithm in (FixedWindow, TokenBucket):
        script = algorithm.SCRIPT
        algorithm.SCRIPT = script.replace("#!lua flags=allow-key-locking", "#!lua")
    redis = _upstash_client(url, token)
    tag = secrets.token_hex(3)
    per_second = Ratelimit(
        redis,
        TokenBucket(max_tokens=BURST, refill_rate=BURST, interval=1, unit="s"),
        prefix=f"peers{tag}:burst",
    )
    monthly = Ratelimit(redis, FixedWindow(QUOTA, 30, unit="d"), prefix=f"peers{tag}:quota")

    async def limited(request: Request) -> None:
        who = _caller(request)
        # As its documentation combines two limits: the burst, then the month's quota.
        if not ((await per_second.limit(who)).allowed and (await monthly.limit(who)).allowed):
            raise HTTPException(status_code=429, detail="rate limit exceeded")

    app = _route(FastAPI(), [Depends(limited)])
    return _Variant("upstash-ratelimit (2 EVALs)", app, {"X-API-Key": "bench"}, [redis.close])


async def _block(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[int]:
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        started = clock()
        response = await client.get(PATH, headers=headers)
        out.append(clock() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{PATH} answered {response.status_code}: {response.text[:200]}")
    return out


async def _rounds(
    variants: Sequence[_Variant], requests: int, rounds: int, block: int, warmup: int
) -> list[list[float]]:
    """Per variant, its median (ns) in each round."""
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=v.app), base_url="http://bench")
        for v in variants
    ]
    medians: list[list[float]] = [[] for _ in variants]
    try:
        for client, v in zip(clients, variants, strict=True):
            await _block(client, v.headers, warmup)
        for r in range(rounds):
            got: list[list[int]] = [[] for _ in variants]
            for j in range(-(-requests // block)):
                k = (r + j) % len(variants)
                order = [*range(k, len(variants)), *range(k)]
                for i in reversed(order) if r % 2 else order:
                    gc.collect()  # a collection lands in no one's timed block
                    n = min(block, requests - len(got[i]))
                    got[i] += await _block(clients[i], variants[i].headers, n)
            for i, samples in enumerate(got):
                medians[i].append(statistics.median(samples))
    finally:
        for client in clients:
            await client.aclose()
    return medians


def _table(
    title: str, variants: Sequence[_Variant], medians: list[list[float]], reference: str
) -> tuple[Table, dict[str, float]]:
    table = Table(title, columns=("variant", "ratio (median)", "ratio min-max", "median (us)",
                                  f"added to {reference} (us)"))  # fmt: skip
    base = medians[0]
    ratios: dict[str, float] = {}
    for v, rows in zip(variants, medians, strict=True):
        paired = [m / b for m, b in zip(rows, base, strict=True)]
        added = [(m - b) / 1e3 for m, b in zip(rows, base, strict=True)]
        ratios[v.name] = statistics.median(paired)
        spread = f"{min(paired):.2f}-{max(paired):.2f}"
        median_us = statistics.median(rows) / 1e3
        table.add(v.name, f"{ratios[v.name]:.3f}", spread, f"{median_us:.0f}",
                  f"{statistics.median(added):+.0f}")  # fmt: skip
    return table, ratios


async def measure(
    url: str = "",
    token: str = "",
    *,
    requests: int = 600,
    rounds: int = 5,
    block: int = 100,
    only: str = "",
) -> Outcome:
    """The peer tables; over Upstash only when `url` (the local REST server) is given."""
    missing = missing_peers()
    if missing:
        note = f"peer table skipped: not installed: {', '.join(missing)} (pip install -e '.[dev]')"
        print(note, flush=True)
        return Outcome([Table(f"Peers: skipped ({note})")], [])
    tables: list[Table] = []
    findings: list[Finding] = []
    warmup = min(200, requests)
    if only in ("", "inprocess"):
        variants = [await _ungated(), await _tiergate("tiergate (in-process store)"),
                    await _slowapi(), await _limits_fixed(), await _fastapi_limiter()]  # fmt: skip
        try:
            medians = await _rounds(variants, requests, rounds, block, warmup)
        finally:
            for v in variants:
                for close in v.closers:
                    await close()
        table, ratios = _table(
            f"Peers in-process: the same route, ungated = 1 ({rounds} rounds x {requests:,})",
            variants, medians, "ungated",
        )  # fmt: skip
        table.notes.append(
            "ratio: per round, the variant's median over the ungated app's in the same round;"
            " the median of those, and their range over rounds"
        )
        tables.append(table)
        ours, fixed = ratios[variants[1].name], ratios[variants[3].name]
        findings.append(Finding("in-process gate / ungated, beside limits FixedWindow",
                                f"{ours:.2f}x", f"{fixed:.2f}x (limits)", "<= limits",
                                ours <= fixed))  # fmt: skip
    if url and only in ("", "upstash"):
        variants = [await _upstash_get(url, token),
                    await _tiergate("tiergate (Upstash store)", url, token),
                    await _upstash_ratelimit(url, token)]  # fmt: skip
        try:
            medians = await _rounds(variants, max(1, requests // 2), rounds, block, warmup // 2)
        finally:
            for v in variants:
                for close in v.closers:
                    await close()
        table, ratios = _table(
            f"Peers over the local Upstash server: one bare GET = 1 ({rounds} rounds x"
            f" {max(1, requests // 2):,})",
            variants, medians, "the bare GET",
        )  # fmt: skip
        table.notes.append(
            "one loopback REST round trip to the local server, which shares this process's GIL"
            " (its CPU is in every figure)"
        )
        tables.append(table)
        ours = ratios[variants[1].name]
        findings.append(Finding("gate over local Upstash / one bare upstash-redis GET",
                                f"{ours:.2f}x", "1.00x (GET)", "<= 1.05x",
                                ours <= 1.05))  # fmt: skip
    return Outcome(tables, findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=600, help="per variant and round")
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--only", choices=("inprocess", "upstash"), default="")
    args = parser.parse_args(argv)
    os.environ.setdefault("TIERGATE_LOG_LEVEL", "WARNING")  # as bench/__main__.py
    sys.stdout = _quiet(sys.stdout)

    async def run(url: str, token: str) -> Outcome:
        return await measure(url, token, requests=args.requests, rounds=args.rounds,
                             block=args.block, only=args.only)  # fmt: skip

    if args.only == "inprocess":
        outcome = asyncio.run(run("", ""))
    else:
        from .stack import running_stack

        with running_stack() as stack:
            outcome = asyncio.run(run(stack.url, stack.token))
    for table in outcome.tables:
        print(render(table), end="\n\n", flush=True)
    return 0


def _quiet(out: Any) -> Any:
    """stdout without the apps' EMF documents (the cost meter writes them as deployed)."""
    from .__main__ import _WithoutEmf

    return _WithoutEmf(out)


if __name__ == "__main__":
    sys.exit(main())
