"""Overage and usage alerts on the hot path: round trips per admitted request with them on,
side by side with them off in the same run, and the Redis bytes they add per account.

Both accounts get the same requests through UpstashStore (counted at the REST server). The
flat one has no overage and no alerts; the billed one has an overage cap, alerts at 80 and
100 % and the cap, and spreads its requests over a few routes, so the run crosses every
alert and counts overage for the meter: the worst a request can ask of the script.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

from tiergate.clock import SystemClock
from tiergate.decision import Check
from tiergate.hotstate import AccountState, usage_alerts
from tiergate.periods import calendar_month
from tiergate_tools.localredis.resp import RespPool

from .report import Finding, Outcome, Table, fmt_bytes
from .stack import Stack
from .target import account, new_account_id, new_digest, seed

__all__ = ["measure"]

NS = "us"
ROUTES = ("/v1/hello", "/v1/pro/hello", "/v1/items/{item_id}", "/v1/search", "/v1/export")


async def measure(stack: Stack, decisions: int) -> Outcome:
    clock = SystemClock()
    store = stack.store(NS)
    half = decisions // 2  # the billed account's limit: the second half is overage
    flat = account(new_account_id(), limit=decisions, burst=1_000_000)
    billed = replace(
        account(new_account_id(), limit=half, burst=1_000_000),
        overage_cap=decisions - half,
        meter="api_overage",
        alerts=usage_alerts(half, (80, 100), decisions - half),
    )

    async def phase(state: AccountState, routed: bool) -> tuple[float, float, int]:
        """Round trips per admitted request, median wall ms, and the alerts crossed."""
        digest = new_digest()
        await seed(store, digest, state)
        await store.check(Check(digest, clock.now_ms()))  # script loaded: steady state only
        stack.counter.reset()
        took: list[float] = []
        crossed = 0
        for n in range(decisions - 1):
            route = ROUTES[n % len(ROUTES)] if routed else ""
            started = time.perf_counter()
            verdict = await store.check(Check(digest, clock.now_ms(), route=route))
            took.append(time.perf_counter() - started)
            if not verdict.admitted:
                raise RuntimeError(f"request {n} was refused: {verdict.code.name}")
            crossed += bool(verdict.alerts)
        return stack.counter.total / (decisions - 1), statistics.median(took) * 1000, crossed

    off_trips, off_ms, _ = await phase(flat, routed=False)
    on_trips, on_ms, crossed = await phase(billed, routed=True)
    sizes = await _bytes_per_account(stack, billed.account_id)
    await store.aclose()

    table = Table(f"Overage and alerts on the hot path (UpstashStore, n={decisions - 1:,} each)")
    table.columns = ("metric", "overage + alerts on", "off (flat tier)", "target")
    table.add("round trips per admitted request", f"{on_trips:.3f}", f"{off_trips:.3f}", "1")
    table.add("median wall ms per admitted request", f"{on_ms:.2f}", f"{off_ms:.2f}", "-")
    table.add("alerts crossed in the run (80, 100, cap)", crossed, "0", "3")
    for name, size in sizes.items():
        table.add(f"Redis bytes per account: {name}", fmt_bytes(size), "none", "O(1)")
    table.notes += [
        "the billed account's requests go past its limit into overage and up to its cap,"
        f" spread over {len(ROUTES)} routes; every one is admitted",
        "MEMORY USAGE of each key the usage state adds for the account (per period); the"
        " meter list and the alert queue are shared keys, measured as what this account's"
        " entries add to them",
    ]
    return Outcome(
        [table],
        [
            Finding("round trips per admitted request, overage + alerts on",
                    f"{on_trips:.2f}", f"{off_trips:.2f} (off)", "1", on_trips <= 1.0),
            Finding("Redis bytes per account for usage state",
                    fmt_bytes(sum(sizes.values())), "n/a", "O(1)", None),
        ],
    )  # fmt: skip


async def _bytes_per_account(stack: Stack, account_id: str) -> dict[str, int]:
    start = calendar_month(SystemClock().now_ms())[0]
    akey = f"{NS}:a:{account_id}"
    pool = RespPool(stack.redis_host, stack.redis_port)
    try:

        async def usage(name: str) -> int:
            reply = await pool.execute("MEMORY", "USAGE", name, "SAMPLES", "0")
            if not isinstance(reply, int):
                raise RuntimeError(f"no MEMORY USAGE for {name}: {reply!r}")
            return reply

        async def entries_bytes(name: str, kind: str) -> int:
            """What this account's entries occupy in a shared hash or list: measured as the
            key holding only them (the namespace is this step's own)."""
            count = await pool.execute("HLEN" if kind == "hash" else "LLEN", name)
            if not isinstance(count, int) or count == 0:
                raise RuntimeError(f"{name} is empty")
            return await usage(name)

        return {
            "overage units (string)": await usage(f"{akey}:o:{start}:api_overage"),
            f"units by route (hash of {len(ROUTES)})": await usage(f"{akey}:u:{start}"),
            "alert mark (string)": await usage(f"{akey}:n:{start}"),
            "meter hash, holding its entry alone": await entries_bytes(f"{NS}:m", "hash"),
            "alert queue, holding its 3 alone": await entries_bytes(f"{NS}:al", "list"),
        }
    finally:
        await pool.close()
