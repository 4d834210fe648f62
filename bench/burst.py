"""Burst: requests sent back to back, in real time, at a burst of 5 per second.

GCRA starts with a full allowance of 5 and refills one token every 200 ms, so what gets in
is 5 plus one per 200 ms the 50 requests take. The baseline has no burst limit to enforce.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from tiergate.clock import SystemClock

from .baseline import SlidingLogLimiter
from .report import Finding, Outcome, Table
from .stack import Stack
from .target import account, check_at, new_account_id, new_digest, seed

__all__ = ["measure"]

BURST = 5
QUOTA = 1_000_000  # never the binding limit here
TARGET = BURST + 1  # the one token that can refill while 50 loopback requests run


async def measure(stack: Stack, requests: int) -> Outcome:
    clock = SystemClock()
    store = stack.store("burst")
    digest = new_digest()
    await seed(store, digest, account(new_account_id(), limit=QUOTA, burst=BURST))
    # Warm the connection and the script cache on another key, so neither eats the window.
    await store.check(check_at(new_digest(), clock.now_ms()))

    async def tiergate() -> bool:
        return (await store.check(check_at(digest, clock.now_ms()))).admitted

    redis = stack.client()
    await redis.exists("warm-up")
    limiter = SlidingLogLimiter(redis, limit=QUOTA)

    async def baseline() -> bool:
        return await limiter.allow(f"rl:{digest}")

    ours, ours_ms = await _back_to_back(tiergate, requests)
    theirs, theirs_ms = await _back_to_back(baseline, requests)
    await store.aclose()
    await redis.close()

    table = Table(f"4. Burst ({requests} requests back to back, burst {BURST}/s, real time)")
    table.add(f"admitted of {requests}", ours, theirs, f"<= {TARGET}")
    table.add(f"wall time for the {requests} (ms)", f"{ours_ms:.0f}", f"{theirs_ms:.0f}", "-")
    table.notes.append(
        f"GCRA admits {BURST} at once, then one more per {1000 // BURST} ms of wall time;"
        " the baseline only counts against the monthly limit"
    )
    return Outcome(
        [table],
        [Finding(f"admitted of {requests} at burst {BURST}/s", str(ours), str(theirs),
                 f"<= {TARGET}", ours <= TARGET)],
    )  # fmt: skip


async def _back_to_back(decide: Callable[[], Awaitable[bool]], requests: int) -> tuple[int, float]:
    started = time.perf_counter()
    admitted = 0
    for _ in range(requests):
        ok = await decide()
        admitted += ok
    return admitted, (time.perf_counter() - started) * 1000
