"""Round trips per decision: HTTP requests that reach the Upstash REST server, counted there."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

from pydantic import SecretStr

from tiergate.clock import SystemClock
from tiergate.config import Settings
from tiergate.gate import Requirement
from tiergate.keys import generate_key, key_digest
from tiergate.outcomes import Admitted
from tiergate.registry import Account, KeyRecord
from tiergate.registry.memory import MemoryRegistry
from tiergate.wiring import build

from .baseline import SlidingLogLimiter
from .report import Finding, Outcome, Table
from .stack import Stack
from .target import account, check_at, new_account_id, new_digest, seed

__all__ = ["measure"]

_TIERS = '{"bench": {"limit": 1000000000, "price": 0, "burst": 1000000}}'


async def measure(stack: Stack, decisions: int) -> Outcome:
    clock = SystemClock()
    counter = stack.counter

    async def phase(decide: Callable[[], Awaitable[bool]], expect: bool) -> tuple[float, float]:
        """Round trips per decision and median wall ms, over `decisions` decisions."""
        counter.reset()
        took: list[float] = []
        for _ in range(decisions):
            started = time.perf_counter()
            if await decide() is not expect:
                raise RuntimeError(f"expected every decision to be admitted={expect}")
            took.append(time.perf_counter() - started)
        return counter.total / decisions, statistics.median(took) * 1000

    # Exactly `decisions` fit the quota: the first phase is all admitted, the next all denied.
    store = stack.store("rt")
    digest = new_digest()
    state = account(new_account_id(), limit=decisions, burst=1_000_000)
    await seed(store, digest, state)
    await store.check(check_at(new_digest(), clock.now_ms()))  # loads the script: not steady

    async def tiergate() -> bool:
        return (await store.check(check_at(digest, clock.now_ms()))).admitted

    baseline_redis = stack.client()
    limiter = SlidingLogLimiter(baseline_redis, limit=decisions)
    baseline_key = f"rl:{digest}"

    async def baseline() -> bool:
        return await limiter.allow(baseline_key)

    t_admit, t_admit_ms = await phase(tiergate, True)
    b_admit, b_admit_ms = await phase(baseline, True)
    t_deny, _ = await phase(tiergate, False)
    b_deny, _ = await phase(baseline, False)
    await store.aclose()
    await baseline_redis.close()

    cold, steady, registry_reads = await _through_the_gate(stack, decisions)

    table = Table(
        f"1. Round trips per decision (HTTP requests at the Upstash server, n={decisions:,})"
    )
    table.add("admitted, steady state", f"{t_admit:.3f}", f"{b_admit:.3f}", "1")
    table.add("denied by quota, steady state", f"{t_deny:.3f}", f"{b_deny:.3f}", "1")
    table.add("median wall ms per admitted decision", f"{t_admit_ms:.2f}", f"{b_admit_ms:.2f}", "-")
    table.add("Gate.admit: first request of a new key", cold, "n/a", "-")
    table.add(f"Gate.admit: the next {decisions:,}, per request", f"{steady:.3f}", "n/a", "1")
    table.add(f"Gate.admit: registry reads for those {decisions:,}", registry_reads, "n/a", "0")
    table.notes += [
        "the first request of a key after SCRIPT FLUSH: EVALSHA (NOSCRIPT), EVAL (key miss),"
        " write-through (/multi-exec), EVALSHA; once per key, and the script once per Redis",
        "the baseline does no key lookup, so it has no cold path to compare",
        "wall times are loopback HTTP with the REST server in this process (shared GIL)",
    ]
    return Outcome(
        [table],
        [
            Finding("round trips per admitted decision", f"{t_admit:.2f}", f"{b_admit:.2f}", "1",
                    t_admit <= 1.0),
            Finding("registry reads in steady state", str(registry_reads), "n/a", "0",
                    registry_reads == 0),
        ],
    )  # fmt: skip


async def _through_the_gate(stack: Stack, decisions: int) -> tuple[int, float, int]:
    """Round trips of the whole gate (key parse, store, write-through), cold then steady."""
    settings = Settings(
        tiers=_TIERS,
        upstash_redis_rest_url=stack.url,
        upstash_redis_rest_token=SecretStr(stack.token),
        redis_namespace="rtgate",
        redis_timeout=10,
        table=None,
    )
    parts = build(settings)
    registry = parts.registry
    assert isinstance(registry, MemoryRegistry)
    key = generate_key(parts.key_env)
    await registry.put_account(Account("cus_rtgate", tier="bench"))
    await registry.put_key(KeyRecord(key_digest(key), "cus_rtgate", created_at_ms=0))
    need = Requirement()
    redis = stack.client()
    await redis.script_flush()  # the worst first request: the script is not cached either
    await redis.close()

    stack.counter.reset()
    if not isinstance(await parts.gate.admit(key, need), Admitted):
        raise RuntimeError("the first request of a new key was not admitted")
    cold = stack.counter.total

    reads_before = registry.reads
    stack.counter.reset()
    for _ in range(decisions):
        if not isinstance(await parts.gate.admit(key, need), Admitted):
            raise RuntimeError("a steady-state request through the gate was denied")
    steady = stack.counter.total / decisions
    await parts.aclose()
    return cold, steady, registry.reads - reads_before
