"""`python -m bench [--quick]`: every measurement, side by side with the baseline, one run."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from tiergate_tools.localredis.resp import RespPool

from . import (
    app_calls,
    burst,
    coldstart,
    concurrency,
    dynamo_calls,
    latency,
    measuring,
    memory,
    meter_push,
    peers,
    roundtrips,
    upstash_client,
    usage_state,
)
from .report import Finding, Outcome, Table, render
from .stack import Stack, running_stack


@dataclass(frozen=True)
class Volumes:
    decisions: int = 1_000
    memory_checkpoints: tuple[int, ...] = (1_000, 50_000, 500_000)
    markers: int = 1_000
    concurrency_runs: int = 5
    concurrency_clients: int = 64
    concurrency_requests: int = 1_000
    concurrency_quota: int = 100
    burst_requests: int = 50
    latency_requests: int = 2_000
    upstash_latency_requests: int = 500
    registry_requests: int = 1_000
    registry_events: int = 50
    cold_runs: int = 21
    app_requests: int = 500
    upstash_client_calls: int = 1_000
    upstash_client_imports: int = 4
    measuring_requests: int = 4_000
    measuring_cpu_requests: int = 600
    measuring_cold_runs: int = 5
    meter_accounts: int = 200
    peer_requests: int = 600
    peer_rounds: int = 5


FULL = Volumes()
QUICK = Volumes(
    decisions=200,
    memory_checkpoints=(1_000, 5_000, 20_000),
    markers=200,
    concurrency_runs=2,
    latency_requests=400,
    upstash_latency_requests=100,
    registry_requests=200,
    registry_events=10,
    cold_runs=3,
    app_requests=100,
    upstash_client_calls=300,
    upstash_client_imports=2,
    measuring_requests=1_000,
    measuring_cpu_requests=200,
    measuring_cold_runs=2,
    meter_accounts=40,
    peer_requests=200,
    peer_rounds=3,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller volumes, a smoke run")
    args = parser.parse_args(argv)
    # The apps measured log as deployed (JSON on stdout); only warnings, or they bury the tables.
    os.environ.setdefault("TIERGATE_LOG_LEVEL", "WARNING")
    # They also write their EMF documents as deployed (the cost meter's, per route and tier):
    # written and paid for, then dropped here, so only the tables reach the terminal. Left in
    # place to the end: the meters write what they still batch at exit.
    sys.stdout = _WithoutEmf(sys.stdout)
    volumes = QUICK if args.quick else FULL
    started = time.monotonic()
    with running_stack() as stack:
        findings = asyncio.run(_run(stack, volumes, "quick" if args.quick else "full"))
    print(render(_summary(findings, time.monotonic() - started)))
    return 0


class _WithoutEmf(io.TextIOBase):
    """stdout for the tables: EMF documents (one per write, as observe.metrics writes them)
    are dropped."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        if not text.startswith('{"_aws":'):
            self._out.write(text)
        return len(text)

    def flush(self) -> None:
        self._out.flush()


async def _run(stack: Stack, v: Volumes, mode: str) -> list[Finding]:
    print(await _header(stack, mode), end="\n\n", flush=True)
    # Coroutines are made one at a time, so a failing step leaves none un-awaited.
    steps: list[tuple[str, Callable[[], Awaitable[Outcome]]]] = [
        ("round trips", lambda: roundtrips.measure(stack, v.decisions)),
        ("usage state", lambda: usage_state.measure(stack, v.decisions)),
        ("memory", lambda: memory.measure(stack, v.memory_checkpoints, v.markers)),
        ("concurrency", lambda: concurrency.measure(stack, v.concurrency_runs,
                                                    v.concurrency_clients,
                                                    v.concurrency_requests, v.concurrency_quota)),
        ("burst", lambda: burst.measure(stack, v.burst_requests)),
        ("latency", lambda: latency.measure(stack, v.latency_requests,
                                            v.upstash_latency_requests)),
        ("app over upstash", lambda: app_calls.measure(stack, v.app_requests)),
        ("peers", lambda: peers.measure(stack.url, stack.token, requests=v.peer_requests,
                                        rounds=v.peer_rounds)),
        ("registry", lambda: dynamo_calls.measure(stack, v.registry_requests,
                                                  v.registry_events)),
        ("meter push", lambda: meter_push.measure(v.meter_accounts)),
        ("upstash client", lambda: asyncio.to_thread(upstash_client.measure,
                                                      v.upstash_client_calls,
                                                      v.upstash_client_imports)),
        ("cold start", lambda: asyncio.to_thread(coldstart.measure, v.cold_runs)),
        ("cost measurement", lambda: measuring.measure(v.measuring_requests,
                                                      v.measuring_cpu_requests,
                                                      v.measuring_cold_runs)),
    ]  # fmt: skip
    findings: list[Finding] = []
    for name, step in steps:
        began = time.monotonic()
        outcome = await step()
        for table in outcome.tables:
            print(render(table), flush=True)
        print(f"  ({name}: {time.monotonic() - began:.1f} s)\n", flush=True)
        findings += outcome.findings
    return findings


async def _header(stack: Stack, mode: str) -> str:
    pool = RespPool(stack.redis_host, stack.redis_port)
    info = await pool.execute("INFO", "server")
    await pool.close()
    version = "?"
    if isinstance(info, bytes):
        fields = dict(line.split(":", 1) for line in info.decode().splitlines() if ":" in line)
        version = fields.get("redis_version", "?")
    return (
        f"tiergate benchmarks ({mode} run): Python {platform.python_version()},"
        f" redis-server {version}, {os.cpu_count()} cores, all on loopback\n"
        "baseline: the blueprint's sorted-set sliding log over the same Upstash REST server"
        " and client (2 pipelined round trips, 30-day window, no burst limit)"
    )


def _summary(findings: list[Finding], seconds: float) -> Table:
    table = Table(f"Summary ({seconds:.0f} s in all)", columns=(*Table("").columns, "met"))
    for f in findings:
        met = "-" if f.met is None else ("yes" if f.met else "NO")
        table.add(f.metric, f.tiergate, f.baseline, f.target, met)
    return table


if __name__ == "__main__":
    sys.exit(main())
