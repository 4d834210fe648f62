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

from tiergate.config import Settings
from tiergate.observe import Observation
from tiergate.observe.context import bind
from tiergate.observe.costmeter import CostMeter
from tiergate.observe.recording import MemoryRecorder
from tiergate.observe.resources import spent_on_redis
from tiergate.outcomes import Admitted
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


SAMPLE = 10  # the sampled variant: TIERGATE_MEASURE_SAMPLE=10, one request in ten measured


async def _overhead(requests: int) -> dict[str, Any]:
    """Seconds per request with measuring on, sampled and off: medians, p99s, CPU means,
    and per variant the paired rounds' ratios to off (the machine's drift cancels in a
    round, where every variant runs back to back)."""
    base: dict[str, Any] = {"tiers": TIERS, "upstash_redis_rest_url": None, "table": None}
    clients = []
    for name, flags in (("on", {"measure": True}), ("sampled", {"measure_sample": SAMPLE}),
                        ("off", {"measure": False})):  # fmt: skip
        client, headers = await _client(Settings(**base, **flags))
        clients.append((name, client, headers))
    samples: dict[str, list[float]] = {name: [] for name, _, _ in clients}
    cpu = dict.fromkeys(samples, 0.0)
    ratios: dict[str, list[float]] = {"on": [], "sampled": []}
    cpu_ratios: dict[str, list[float]] = {"on": [], "sampled": []}
    with _stdout_to_devnull():
        for _, client, headers in clients:  # warm: first uses, caches
            for _ in range(200):
                await client.get("/v1/hello", headers=headers)
        per_round = max(1, requests // ROUNDS)
        for r in range(ROUNDS):
            this_round: dict[str, tuple[float, float]] = {}
            order = clients[r % 3 :] + clients[: r % 3]  # each variant first in turn
            for name, client, headers in order if r % 2 == 0 else order[::-1]:
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
            for name in ratios:
                ratios[name].append(this_round[name][0] / this_round["off"][0])
                cpu_ratios[name].append(this_round[name][1] / this_round["off"][1])
    for _, client, _ in clients:
        await client.aclose()
    found: dict[str, Any] = {}
    for name in samples:
        found[name] = statistics.median(samples[name])
        found[f"{name}_p99"] = statistics.quantiles(samples[name], n=100)[98]
        found[f"{name}_cpu"] = cpu[name] / len(samples[name])
    for name in ratios:
        found[f"{name}_ratio"] = _with_error(ratios[name])
        found[f"{name}_cpu_ratio"] = _with_error(cpu_ratios[name])
    return found


def _with_error(ratios: list[float]) -> tuple[float, float]:
    """The median of paired ratios and its standard error, from their spread: the median's
    standard error is about 1.2533 sigma / sqrt(n), sigma estimated as IQR / 1.349 (robust
    to the odd slow round a shared machine has)."""
    quartiles = statistics.quantiles(ratios, n=4)
    sigma = (quartiles[2] - quartiles[0]) / 1.349
    return statistics.median(ratios), 1.2533 * sigma / len(ratios) ** 0.5


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
    share, share_error = o["on_ratio"][0] - 1, o["on_ratio"][1]
    cpu_share, cpu_error = o["on_cpu_ratio"][0] - 1, o["on_cpu_ratio"][1]
    sampled_cpu, sampled_error = o["sampled_cpu_ratio"][0] - 1, o["sampled_cpu_ratio"][1]
    isolated = _isolated(20 * requests)
    table = Table(
        f"Cost measurement on the gated request (GET /v1/hello, in-process stores,"
        f" n={requests:,} each)",
        columns=("metric", "measuring on", f"sampled 1 in {SAMPLE}", "off", "target"),
    )
    for metric, key in (("median (us)", ""), ("p99 (us)", "_p99"),
                        ("CPU per request, mean (us)", "_cpu")):  # fmt: skip
        table.add(metric, *(f"{o[name + key] * us:.1f}" for name in ("on", "sampled", "off")),
                  "-")  # fmt: skip
    table.add("added by measuring, median (us)", f"{(o['on'] - o['off']) * us:.1f}",
              f"{(o['sampled'] - o['off']) * us:.1f}", "-", "-")  # fmt: skip
    table.add("added / latency, paired rounds", f"{share:+.1%} ± {share_error:.1%}",
              f"{o['sampled_ratio'][0] - 1:+.1%} ± {o['sampled_ratio'][1]:.1%}", "-",
              "< 5 %")  # fmt: skip
    table.add("added / CPU, paired rounds", f"{cpu_share:+.1%} ± {cpu_error:.1%}",
              f"{sampled_cpu:+.1%} ± {sampled_error:.1%}", "-", "< 5 %")  # fmt: skip
    table.add("the meter's own code per request, isolated (us)", f"{isolated * us:.2f}", "-",
              "-", "-")  # fmt: skip
    table.add("  / the gated request's median latency", f"{isolated / o['off']:.1%}", "-", "-",
              "< 5 %")  # fmt: skip
    table.notes.append(
        "the apps write their EMF lines to /dev/null (a real write per document, as on"
        " Lambda); 'off' writes none for admitted requests. Paired rounds: 100 short rounds,"
        " every variant in each, the order rotating; a ratio is the median over rounds of the"
        " variant's figure over off's in the same round, ± the median's standard error (from"
        " the rounds' interquartile range); CPU: the process's, over each round"
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
            Finding("cost measurement: added latency / gated request",
                    f"{share:+.1%} ± {share_error:.1%}", "off 0 %", "< 5 %", share < 0.05),
            Finding("cost measurement: added CPU / gated request",
                    f"{cpu_share:+.1%} ± {cpu_error:.1%}", "off 0 %", "< 5 %", cpu_share < 0.05),
            Finding(f"cost measurement, 1 in {SAMPLE}: added CPU / gated request",
                    f"{sampled_cpu:+.1%} ± {sampled_error:.1%}", "off 0 %", "< 5 %",
                    sampled_cpu < 0.05),
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
