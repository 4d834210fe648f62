"""What each gated request cost to serve: its wall and CPU time, the bytes it sent, and what
it spent on Redis, DynamoDB, Stripe and third-party APIs (observe/resources.py), as one EMF
document per request with the dimensions [service, route, tier], and handed to any other
sink (the local recording of `tiergate serve`, the `--profile` run).

The hot path pays for two clock reads at each end, a few additions and one preformatted
line: the document's fixed part (directive, dimensions) is rendered once per route and tier,
so a request formats only its numbers. bench/measuring.py holds it to 5 % of the gate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from ..telemetry import (
    COST_METRICS,
    COST_THIRD_PARTY_CALLS,
    COST_THIRD_PARTY_USD,
    DIM_API,
    DIM_ROUTE,
    DIM_SERVICE,
    DIM_TIER,
)
from .context import Observation
from .cpu import PROCESS, CpuShares
from .resources import Spent

__all__ = ["CostMeter", "Measured", "MeasurementSink"]


class Measured:
    """One request's measurement, rounded as it is emitted (so every sink sums the same)."""

    __slots__ = (
        "cpu_ms",
        "dynamodb_reads",
        "dynamodb_writes",
        "redis_commands",
        "response_bytes",
        "route",
        "stripe_calls",
        "third_party",
        "tier",
        "wall_ms",
    )

    def __init__(
        self,
        route: str,
        tier: str,
        wall_ms: float,
        cpu_ms: float,
        response_bytes: int,
        spent: Spent,
    ) -> None:
        self.route = route
        self.tier = tier
        self.wall_ms = round(wall_ms, 3)
        self.cpu_ms = round(cpu_ms, 3)
        self.response_bytes = response_bytes
        self.redis_commands = spent.redis_commands
        self.dynamodb_reads = spent.dynamodb_reads
        self.dynamodb_writes = spent.dynamodb_writes
        self.stripe_calls = spent.stripe_calls
        # api -> (calls, dollars)
        self.third_party: Mapping[str, tuple[float, float]] = (
            {api: (c, round(usd, 9)) for api, (c, usd) in spent.third_party.items()}
            if spent.third_party
            else {}
        )

    def values(self) -> tuple[float, ...]:
        """The values of COST_METRICS, in its order."""
        return (
            self.wall_ms,
            self.cpu_ms,
            self.response_bytes,
            self.redis_commands,
            self.dynamodb_reads,
            self.dynamodb_writes,
            self.stripe_calls,
        )


class MeasurementSink(Protocol):
    def add(self, measured: Measured) -> None: ...


class CostMeter:
    """Measures the gated requests of one app. `start` when a request comes in, `finish`
    when it is answered (always, once per start: the CPU shares count requests in flight)."""

    def __init__(
        self,
        namespace: str,
        service: str,
        *,
        sinks: Iterable[MeasurementSink] = (),
        shares: CpuShares = PROCESS,
        wall: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.sinks = list(sinks)
        self._shares = shares
        self._wall = wall
        self._namespace = namespace
        self._service = service
        self._fixed: dict[tuple[str, str], str] = {}  # (route, tier) -> the line's fixed part

    def start(self, observation: Observation) -> None:
        spent = Spent()
        spent.started = self._wall()
        spent.cpu_token = self._shares.start()
        observation.spent = spent

    def finish(
        self,
        observation: Observation,
        route: str | None,
        tier: str,
        response_bytes: int,
        now_ms: int,
    ) -> str:
        """End the request's measurement; returns its EMF lines ("" for a request no gated
        route served: a 404 under the prefix is nobody's cost)."""
        spent = observation.spent
        if spent is None:
            return ""
        observation.spent = None
        cpu_ms = self._shares.end(spent.cpu_token) * 1000
        if route is None:
            return ""
        wall_ms = (self._wall() - spent.started) * 1000
        measured = Measured(route, tier, wall_ms, cpu_ms, response_bytes, spent)
        for sink in self.sinks:
            sink.add(measured)
        return self._lines(measured, observation.request_id, now_ms)

    def _lines(self, m: Measured, request_id: str, now_ms: int) -> str:
        fixed = self._fixed.get((m.route, m.tier))
        if fixed is None:
            fixed = self._fixed[(m.route, m.tier)] = self._render_fixed(m.route, m.tier)
        numbers = ",".join(
            f'"{name}":{value}' for (name, _), value in zip(COST_METRICS, m.values(), strict=True)
        )
        line = f'{{"_aws":{{"Timestamp":{now_ms},{fixed},{numbers},"request_id":"{request_id}"}}\n'
        if m.third_party:
            line += self._third_party(m, request_id, now_ms)
        return line

    def _render_fixed(self, route: str, tier: str) -> str:
        """`"CloudWatchMetrics":[...]}` and the dimension members, as JSON text."""
        directive = {
            "Namespace": self._namespace,
            "Dimensions": [[DIM_SERVICE, DIM_ROUTE, DIM_TIER]],
            "Metrics": [{"Name": name, "Unit": unit} for name, unit in COST_METRICS],
        }
        members = {DIM_SERVICE: self._service, DIM_ROUTE: route, DIM_TIER: tier}
        return (
            f'"CloudWatchMetrics":[{json.dumps(directive, separators=(",", ":"))}]}},'
            + json.dumps(members, separators=(",", ":"))[1:-1]
        )

    def _third_party(self, m: Measured, request_id: str, now_ms: int) -> str:
        directive = {
            "Namespace": self._namespace,
            "Dimensions": [[DIM_SERVICE, DIM_ROUTE, DIM_TIER, DIM_API]],
            "Metrics": [
                {"Name": COST_THIRD_PARTY_CALLS, "Unit": "Count"},
                {"Name": COST_THIRD_PARTY_USD, "Unit": "None"},
            ],
        }
        lines = []
        for api, (calls, usd) in m.third_party.items():
            document = {
                "_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [directive]},
                DIM_SERVICE: self._service,
                DIM_ROUTE: m.route,
                DIM_TIER: m.tier,
                DIM_API: api,
                COST_THIRD_PARTY_CALLS: calls,
                COST_THIRD_PARTY_USD: usd,
                "request_id": request_id,
            }
            lines.append(json.dumps(document, separators=(",", ":")) + "\n")
        return "".join(lines)
