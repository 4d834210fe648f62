"""Admitted under concurrency: many clients racing for the last units of one quota.

64 asyncio clients (each its own upstash-redis client, like 64 function instances) share
1,000 requests against a quota of 100, through the local Upstash server, in real time. The
burst is set far above the load, so only the quota can refuse.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial

from tiergate.clock import Clock, SystemClock
from tiergate.errors import StoreUnavailable
from tiergate.periods import calendar_month
from tiergate.store.upstash import UpstashStore

from .baseline import SlidingLogLimiter
from .report import Finding, Outcome, Table
from .stack import Stack
from .target import account, check_at, new_account_id, new_digest, seed

__all__ = ["measure"]

BURST = 1_000_000  # per second: never the binding limit here


async def measure(stack: Stack, runs: int, clients: int, requests: int, quota: int) -> Outcome:
    clock = SystemClock()
    stores = [stack.store("cc") for _ in range(clients)]
    redises = [stack.client() for _ in range(clients)]
    try:
        # Open every client's connection first, so each run races the same way.
        await asyncio.gather(*(s.used("warm-up", 0) for s in stores))
        await asyncio.gather(*(r.exists("warm-up") for r in redises))
        ours: list[int] = []
        theirs: list[int] = []
        codes: Counter[str] = Counter()
        for _ in range(runs):
            digest = new_digest()
            state = account(new_account_id(), limit=quota, burst=BURST)
            await seed(stores[0], digest, state)

            deciders = [_decider(s, digest, clock, codes) for s in stores]
            admitted = await _race(deciders, requests)
            period = calendar_month(clock.now_ms())[0]
            used = await stores[0].used(state.account_id, period)
            if used != admitted:
                raise RuntimeError(f"tiergate admitted {admitted} but counted {used}")
            ours.append(admitted)

            key = f"rl:{digest}"
            limiters = [SlidingLogLimiter(r, limit=quota) for r in redises]
            admitted = await _race([partial(lim.allow, key) for lim in limiters], requests)
            logged = await redises[0].zcard(key)
            if logged != admitted:
                raise RuntimeError(f"the baseline admitted {admitted} but logged {logged}")
            theirs.append(admitted)
    finally:
        await asyncio.gather(*(s.aclose() for s in stores), *(r.close() for r in redises))

    table = Table(
        f"3. Admitted under concurrency ({clients} clients, {requests:,} requests, quota {quota})"
    )
    for run, (a, b) in enumerate(zip(ours, theirs, strict=True), start=1):
        table.add(f"run {run}: admitted", a, b, quota)
    table.add("over-admitted, worst run", max(ours) - quota, max(theirs) - quota, 0)
    denied = ", ".join(f"{name} {n:,}" for name, n in sorted(codes.items()) if name != "ADMIT")
    table.notes += [
        f"tiergate outcomes other than admit, all runs: {denied or 'none'}",
        "each run uses a fresh account; admitted counts agree with the stored quota counter"
        " (tiergate) and the sorted set's ZCARD (baseline)",
    ]
    met = all(a == quota for a in ours) and codes["store unavailable"] == 0
    return Outcome(
        [table],
        [
            Finding(
                f"admitted at quota {quota}, {runs} concurrent runs",
                _span(ours),
                _span(theirs),
                f"{quota} every run",
                met,
            )
        ],
    )


def _decider(
    store: UpstashStore, digest: str, clock: Clock, codes: Counter[str]
) -> Callable[[], Awaitable[bool]]:
    async def decide() -> bool:
        try:
            verdict = await store.check(check_at(digest, clock.now_ms()))
        except StoreUnavailable:
            codes["store unavailable"] += 1
            return False
        codes[verdict.code.name] += 1
        return verdict.admitted

    return decide


async def _race(deciders: list[Callable[[], Awaitable[bool]]], requests: int) -> int:
    """One worker per decider; all take requests from one shared budget until it is spent."""
    left = requests
    admitted = 0

    async def worker(decide: Callable[[], Awaitable[bool]]) -> None:
        nonlocal left, admitted
        while left > 0:
            left -= 1  # no await between the test and the decrement: one loop, no race
            # Not `admitted += await ...`: that reads `admitted` before the await and
            # would write back a stale sum over other workers' increments.
            ok = await decide()
            admitted += ok

    async with asyncio.TaskGroup() as group:
        for decide in deciders:
            group.create_task(worker(decide))
    return admitted


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"
