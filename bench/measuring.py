"""What measuring the cost of each request costs: the gated request with it on and off,
side by side in one run; how CPU is attributed when requests overlap; and the cold import
of the API handler with it on and off.

1. Overhead. Two example apps on the in-process stores, identical but for
   TIERGATE_MEASURE, driven in-process (httpx's ASGI transport) in interleaved rounds whose
   order alternates, so drift in the machine's speed hits both alike. stdout is /dev/null
   for both: each EMF line is a real write, as on Lambda (a pipe), not a string kept.
2. CPU attribution. A heavy route (4 slices of 0.5 ms of CPU, yielding between them) and a
   light one (the gate alone), measured one request at a time, then with 8 callers of a
   mixed load overlapping: the even split charges the light route part of the heavy one's
   CPU, and the heavy route less.
3. Cold import of api.index in a fresh Python 3.12 on the Lambda package (bench/coldstart.py's
   way), measuring on and off.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
from fastapi import FastAPI

from tiergate.observe import Observation
from tiergate.observe.context import bind
from tiergate.observe.costmeter import CostMeter
from tiergate.observe.recording import MemoryRecorder
from tiergate.observe.resources import spent_on_redis
from tiergate.outcomes import Admitted
from tiergate.settings import Settings
from tiergate.web import install, requires
from tiergate.web.costs import write_pending
from tiergate.web.example import create_app
from tiergate.wiring import build

from . import coldstart
from .latency import TIERS
from .report import Finding, Outcome, Table

__all__ = ["measure"]

ROUNDS = 100  # short rounds, alternating: a pair of them sees the same machine


@contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    saved = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            yield
        finally:
            write_pending()  # the apps' batched EMF lines go to /dev/null too
            sys.stdout = saved


async def _client(settings: Settings) -> tuple[httpx.AsyncClient, dict[str, str]]:
    parts = build(settings)
    app = create_app(settings, parts=parts)
    key = (await parts.demo_keys())["free"]
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
    return client, {"X-API-Key": key}


async def _overhead(requests: int) -> dict[str, float]:
    """Seconds per request with measuring on and off: medians, p99s, CPU means, and the
    median over adjacent pairs of rounds of on/off (the machine's drift cancels in a pair)."""
    base: dict[str, Any] = {"tiers": TIERS, "upstash_redis_rest_url": None, "table": None}
    on, on_headers = await _client(Settings(**base, measure=True))
    off, off_headers = await _client(Settings(**base, measure=False))
    samples: dict[str, list[float]] = {"on": [], "off": []}
    cpu = {"on": 0.0, "off": 0.0}
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    clients = [("on", on, on_headers), ("off", off, off_headers)]
    with _stdout_to_devnull():
        for _, client, headers in clients:  # warm: first uses, caches
            for _ in range(200):
                await client.get("/v1/hello", headers=headers)
        per_round = max(1, requests // ROUNDS)
        for r in range(ROUNDS):
            this_round: dict[str, tuple[float, float]] = {}
            for name, client, headers in clients if r % 2 == 0 else clients[::-1]:
                cpu_began = time.process_time()
                times = []
                for _ in range(per_round):
                    began = time.perf_counter()
                    response = await client.get("/v1/hello", headers=headers)
                    times.append(time.perf_counter() - began)
                    if response.status_code != 200:
                        raise RuntimeError(f"/v1/hello answered {response.status_code}")
                spent = time.process_time() - cpu_began
                cpu[name] += spent
                samples[name] += times
                this_round[name] = (statistics.median(times), spent)
            ratios.append(this_round["on"][0] / this_round["off"][0])
            cpu_ratios.append(this_round["on"][1] / this_round["off"][1])
    for _, client, _ in clients:
        await client.aclose()

    def p99(which: str) -> float:
        return statistics.quantiles(samples[which], n=100)[98]

    return {
        "on": statistics.median(samples["on"]),
        "off": statistics.median(samples["off"]),
        "on_p99": p99("on"),
        "off_p99": p99("off"),
        "on_cpu": cpu["on"] / len(samples["on"]),
        "off_cpu": cpu["off"] / len(samples["off"]),
        "ratio": statistics.median(ratios),
        "cpu_ratio": statistics.median(cpu_ratios),
    }


def _isolated(requests: int) -> float:
    """Seconds per request of the meter's own code alone (start, a Redis command counted,
    finish, the batch's share of its document), in a tight loop: free of the machine's
    noise, which the paired rounds above only average out."""
    meter = CostMeter("tiergate", "api")
    observation = Observation("0123456789abcdef0123456789abcdef", "api")
    began = time.perf_counter()
    with bind(observation):
        for _ in range(requests):
            meter.start(observation)
            spent_on_redis(1)
            meter.finish(observation, "/v1/hello", "free", 266, 1_796_000_000_000)
    return (time.perf_counter() - began) / requests


def _cpu_app() -> tuple[FastAPI, Settings]:
    app = FastAPI()

    @app.get("/v1/heavy")
    async def heavy(admitted: Annotated[Admitted, requires()]) -> dict[str, str]:
        for _ in range(4):
            began = time.process_time()
            while time.process_time() - began < 0.0005:
                pass
            await asyncio.sleep(0)  # let the other requests in flight run
        return {"ok": "heavy"}

    @app.get("/v1/light")
    async def light(admitted: Annotated[Admitted, requires()]) -> dict[str, str]:
        return {"ok": "light"}

    return app, Settings(tiers=TIERS)


async def _attribution(requests: int) -> tuple[dict[str, tuple[float, float]], float, float]:
    """Mean CPU ms per route (one at a time, 8 callers overlapping); and, overlapping, the
    CPU attributed to all requests against the process's CPU over the same span (ms)."""
    app, settings = _cpu_app()
    parts = build(settings)
    install(app, settings, parts=parts)
    key = (await parts.demo_keys())["free"]
    meter = app.state.tiergate_costs
    assert isinstance(meter, CostMeter)
    transport = httpx.ASGITransport(app=app)
    headers = {"X-API-Key": key}
    paths = ["/v1/heavy" if i % 2 else "/v1/light" for i in range(requests)]
    found: dict[str, list[float]] = {}
    attributed = spent = 0.0
    async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:

        async def caller(queue: list[str]) -> None:
            while queue:
                await client.get(queue.pop(), headers=headers)

        with _stdout_to_devnull():
            await client.get("/v1/light", headers=headers)  # the key's first use
            for overlapping in (False, True):
                recorder = MemoryRecorder()
                meter.sinks[:] = [recorder]
                began = time.process_time()
                if overlapping:
                    queue = list(paths)
                    await asyncio.gather(*(caller(queue) for _ in range(8)))
                else:
                    await caller(list(paths))
                spent = (time.process_time() - began) * 1000
                measured = recorder.totals.measurements()
                for m in measured:
                    found.setdefault(m.route, []).append(m.cpu_ms)
                attributed = sum(m.cpu_ms * m.requests for m in measured)
    await parts.aclose()
    return {route: (v[0], v[1]) for route, v in found.items()}, attributed, spent


def _cold(runs: int) -> tuple[float, float]:
    """Median ms to import api.index with measuring on and off (fresh processes)."""
    package = coldstart._build_here()
    env = {**os.environ, **coldstart._PRODUCTION, "PYTHONPATH": str(package)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times: dict[str, list[float]] = {"true": [], "false": []}
    for flag in times:  # compile once
        coldstart._import_ms("api.index", {**env, "TIERGATE_MEASURE": flag})
    for _ in range(runs):
        for flag in times:
            times[flag].append(coldstart._import_ms("api.index", {**env, "TIERGATE_MEASURE": flag}))
    return statistics.median(times["true"]), statistics.median(times["false"])


async def measure(requests: int, cpu_requests: int, cold_runs: int) -> Outcome:
    o = await _overhead(requests)
    us = 1e6
    added = o["on"] - o["off"]
    share = o["ratio"] - 1
    cpu_share = o["cpu_ratio"] - 1
    isolated = _isolated(20 * requests)
    table = Table(
        f"Cost measurement on the gated request (GET /v1/hello, in-process stores,"
        f" n={requests:,} each)",
        columns=("metric", "measuring on", "off", "target"),
    )
    table.add("median (us)", f"{o['on'] * us:.1f}", f"{o['off'] * us:.1f}", "-")
    table.add("p99 (us)", f"{o['on_p99'] * us:.1f}", f"{o['off_p99'] * us:.1f}", "-")
    table.add("CPU per request, mean (us)", f"{o['on_cpu'] * us:.1f}",
              f"{o['off_cpu'] * us:.1f}", "-")  # fmt: skip
    table.add("added by measuring, median (us)", f"{added * us:.1f}", "-", "-")
    table.add("added / latency, median over paired rounds", f"{share:+.1%}", "-", "< 5 %")
    table.add("added / CPU, median over paired rounds", f"{cpu_share:+.1%}", "-", "< 5 %")
    table.add("the meter's own code per request, isolated (us)", f"{isolated * us:.2f}", "-",
              "-")  # fmt: skip
    table.add("  / the gated request's median latency", f"{isolated / o['off']:.1%}", "-",
              "< 5 %")  # fmt: skip
    table.notes.append(
        "both apps write their EMF lines to /dev/null (a real write per request, as on"
        " Lambda); the 'off' app writes none for admitted requests. Paired rounds: 100"
        " short rounds alternating on/off, the median of each pair's ratio (the machine's"
        " drift cancels within a pair); CPU: the process's, over each round"
    )
    attribution, attributed, spent = await _attribution(cpu_requests)
    cpu = Table(
        f"CPU attribution, heavy and light routes mixed (n={cpu_requests:,}; mean CPU ms)",
        columns=("route", "one at a time", "8 callers overlapping", "error"),
    )
    for route, (alone, together) in sorted(attribution.items()):
        cpu.add(route, f"{alone:.3f}", f"{together:.3f}", f"{(together - alone) / alone:+.0%}")
    gap = f"{(attributed - spent) / spent:+.1%}"
    cpu.add("overlapping: attributed / the process CPU (ms)", f"{attributed:.1f}", f"{spent:.1f}",
            gap)  # fmt: skip
    cpu.notes.append(
        "one at a time is exact (the process's CPU between start and end, the in-process"
        " client's share included); overlapping, the CPU is split evenly among the requests"
        " in flight: the total holds, but a request is charged by its time in flight, so"
        " long ones (heavy, yielding) take some of the short ones' CPU"
    )
    cold_on, cold_off = _cold(cold_runs)
    cold = Table(
        f"Cold import of api.index, Python 3.12 on the Lambda package, median of {cold_runs}",
        columns=("metric", "measuring on", "off", "target"),
    )
    cold.add("import (ms)", f"{cold_on:.1f}", f"{cold_off:.1f}", "-")
    cold.add("ratio on / off", f"{cold_on / cold_off:.2f}x", "1.00x", "-")
    return Outcome(
        [table, cpu, cold],
        [
            Finding("cost measurement: added latency / gated request", f"{share:+.1%}",
                    "off 0 %", "< 5 %", share < 0.05),
            Finding("cost measurement: added CPU / gated request", f"{cpu_share:+.1%}",
                    "off 0 %", "< 5 %", cpu_share < 0.05),
            Finding("cost measurement: its own code, isolated / gated request",
                    f"{isolated / o['off']:.1%}", "-", "< 5 %", isolated / o["off"] < 0.05),
            Finding("cold import of api.index, measuring on / off", f"{cold_on / cold_off:.2f}x",
                    "1.00x", "-", None),
        ],
    )  # fmt: skip


def main() -> int:
    """`python -m bench.measuring [--quick]`: this step alone (under a minute)."""
    from .report import render

    os.environ.setdefault("TIERGATE_LOG_LEVEL", "WARNING")
    quick = "--quick" in sys.argv
    outcome = asyncio.run(measure(1_000 if quick else 4_000, 200 if quick else 600,
                                  2 if quick else 5))  # fmt: skip
    for table in outcome.tables:
        print(render(table), end="\n\n")
    print(json.dumps({f.metric: f.tiergate for f in outcome.findings}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
