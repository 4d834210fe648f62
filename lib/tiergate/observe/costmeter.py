"""What each gated request cost to serve: its wall and CPU time, the bytes it sent, and what
it spent on Redis, DynamoDB, Stripe and third-party APIs (observe/resources.py), as EMF
with the dimensions [service, route, tier], and handed to any other sink (the local
recording of `tiergate serve`, the `--profile` run).

Requests are batched: EMF lets a metric carry up to 100 values, each one sample, so one
document per route and tier carries every request measured since the last one (at most
100, at most TIERGATE_MEASURE_FLUSH seconds old; 0: a document per request, with its
request id). A request then costs a list append, not a line and a write to stdout: the
write (a system call) was most of the measurement's cost, and a document per request would
also bill the owner ~640 bytes of CloudWatch Logs ingestion each, ~34 batched.
What is pending is written when a later request ends the batch, and at exit; an instance
that is reclaimed while frozen loses its last batch (at most TIERGATE_MEASURE_FLUSH
seconds of its requests: the means are unaffected, the request count is a little short).

Sampling (`sample=N`, TIERGATE_MEASURE_SAMPLE): 1 in N gated requests, drawn at random, is
measured and emitted. The others count in flight for the CPU shares (cpu.py: `join`), and
read no clock unless a measured request is in flight, so a measured request's CPU is
attributed exactly as without sampling, and one not measured costs a draw and two counter
changes. The draw for a request is made when the one before it ended, if none was in flight
then, so that the clocks can be read at that end for a request drawn back to back (it is
charged the gap, as without sampling); otherwise at its start. Each document says
`"sample_rate":N` and carries `Requests`, N per request measured: the cost report counts
the requests served as their Sum, and averages over the requests measured (the SampleCount):
means are unbiased estimates, counts estimates too. The estimate's error, for a route with
n requests: its count N*k (k ~ Binomial(n, 1/N)) has a relative standard error of
sqrt((N-1)/n), e.g. 3 % for N=10 and n=10,000; its mean CPU one of (sd/mean of the route's
CPU) * sqrt(N/n). What a measured request costs the meter: bench/measuring.py measures it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from ..telemetry import (
    COST_METRICS,
    COST_REQUESTS,
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

_MOST_VALUES = 100  # EMF's limit of values per metric in one document
_JOINED = -1.0  # the cpu_token of a request not measured (its start was CpuShares.join)
_compact = json.JSONEncoder(separators=(",", ":")).encode  # C-accelerated, for lists of numbers


class Measured:
    """One request's measurement, rounded as it is emitted (so every sink sums the same)."""

    __slots__ = (
        "cpu_ms",
        "dynamodb_reads",
        "dynamodb_writes",
        "redis_commands",
        "requests",
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
        requests: int = 1,
    ) -> None:
        self.route = route
        # The requests it stands for: N when 1 in N is measured, so that the sinks' counts
        # are the requests served, and their means over the requests measured.
        self.requests = requests
        self.tier = tier
        self.wall_ms = wall_ms  # rounded to the microsecond, as the EMF values are
        self.cpu_ms = cpu_ms
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
        flush_s: float = 10.0,
        shares: CpuShares = PROCESS,
        wall: Callable[[], float] = time.perf_counter,
        sample: int = 1,
        chance: Callable[[], float] = random.random,
    ) -> None:
        if sample < 1:
            raise ValueError(f"sample must be 1 or more (1 in N requests measured), not {sample}")
        self.sinks = list(sinks)
        self.sample = sample
        self._chance = chance
        self._flush_s = flush_s
        self.shares = shares  # replaceable while no request is in flight (the profile's)
        self._wall = wall
        self._namespace = namespace
        self._service = service
        # (route, tier) -> the values of COST_METRICS per request, since the last flush
        self._batch: dict[tuple[str, str], list[tuple[float, ...]]] = {}
        self._calls: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
        self._oldest = 0.0  # wall clock of the batch's first request
        self._fixed: dict[tuple[str, str], str] = {}  # (route, tier) -> the fixed JSON part
        self._drawn: bool | None = None  # whether the next request is measured, if drawn
        self._metrics = (*COST_METRICS, (COST_REQUESTS, "Count")) if sample > 1 else COST_METRICS

    def start(self, observation: Observation) -> None:
        if self.sample > 1:
            # Drawn when the previous request ended, if none is in flight (see `_draw_next`),
            # else now: either way one draw per request, whatever its route.
            drawn, self._drawn = self._drawn, None
            if drawn is None:
                drawn = self._chance() * self.sample < 1.0
            if not drawn:  # counts in flight only (observation.spent stays None)
                self.shares.join()
                observation.cpu_token = _JOINED
                return
        spent = Spent()
        # The wall clock is read before the CPU clock here and after it in `finish`, so the
        # wall time spans the CPU's window.
        spent.started = self._wall()
        observation.cpu_token = self.shares.start()
        observation.spent = spent

    def finish(
        self,
        observation: Observation,
        route: str | None,
        tier: str,
        response_bytes: int,
        now_ms: int,
    ) -> str:
        """End the request's measurement; returns the EMF lines due now, if any (a request
        no gated route served adds none: a 404 under the prefix is nobody's cost)."""
        token = observation.cpu_token
        if token is None:
            return ""
        observation.cpu_token = None
        if token is _JOINED:
            self.shares.leave()
            self._draw_next()
            return ""
        cpu_s = self.shares.end(token)
        if self.sample > 1:
            self._draw_next()
        spent = observation.spent
        if spent is None:  # not sampled
            return ""
        observation.spent = None
        if route is None:
            return ""
        cpu_ms = cpu_s * 1000
        ended = self._wall()
        values = (
            (ended - spent.started) * 1000,
            cpu_ms,
            response_bytes,
            spent.redis_commands,
            spent.dynamodb_reads,
            spent.dynamodb_writes,
            spent.stripe_calls,
        )
        if not self._batch and not self._calls:
            self._oldest = ended
        batch = self._batch.get((route, tier))
        if batch is None:
            batch = self._batch[(route, tier)] = []
        batch.append(values)
        if spent.third_party:
            for api, (calls, usd) in spent.third_party.items():
                self._calls.setdefault((route, tier, api), []).append((calls, round(usd, 9)))
        if self.sinks:
            wall_ms, cpu_ms = round(values[0], 3), round(cpu_ms, 3)  # as drain writes them
            measured = Measured(route, tier, wall_ms, cpu_ms, response_bytes, spent, self.sample)
            for sink in self.sinks:
                sink.add(measured)
        if self._flush_s <= 0:
            return self.drain(now_ms, observation.request_id)
        if len(batch) >= _MOST_VALUES or ended - self._oldest >= self._flush_s:
            return self.drain(now_ms)
        return ""

    def _draw_next(self) -> None:
        """With none in flight, draw now whether the next request is measured, and if it is
        read the clocks now: a request that starts back to back is then charged the CPU of
        the gap (the server reading it), as when every request is measured."""
        if self.shares.idle:
            self._drawn = self._chance() * self.sample < 1.0
            if self._drawn:
                self.shares.mark()

    def drain(self, now_ms: int, request_id: str | None = None) -> str:
        """Every pending measurement as EMF lines, and none pending after. `request_id`:
        the one request they are from (a document per request), as a property."""
        lines = []
        tail = f',"request_id":"{request_id}"}}\n' if request_id else "}\n"
        if self.sample > 1:
            tail = f',"sample_rate":{self.sample}{tail}'
        for (route, tier), rows in self._batch.items():
            fixed = self._fixed.get((route, tier))
            if fixed is None:
                fixed = self._fixed[(route, tier)] = self._render_fixed(route, tier)
            columns = list(zip(*rows, strict=True))
            # Times to the microsecond, rounded here rather than per request.
            columns[0] = tuple(round(v, 3) for v in columns[0])
            columns[1] = tuple(round(v, 3) for v in columns[1])
            numbers = ",".join(
                f'"{name}":{_compact(column)}'
                for (name, _), column in zip(COST_METRICS, columns, strict=True)
            )
            if self.sample > 1:  # each measured request stands for N
                numbers += f',"{COST_REQUESTS}":{_compact([self.sample] * len(rows))}'
            lines.append(f'{{"_aws":{{"Timestamp":{now_ms},{fixed},{numbers}{tail}')
        for (route, tier, api), pairs in self._calls.items():
            lines.append(self._third_party(route, tier, api, pairs, now_ms, request_id))
        self._batch.clear()
        self._calls.clear()
        return "".join(lines)

    def _render_fixed(self, route: str, tier: str) -> str:
        """`"CloudWatchMetrics":[...]}` and the dimension members, as JSON text."""
        directive = {
            "Namespace": self._namespace,
            "Dimensions": [[DIM_SERVICE, DIM_ROUTE, DIM_TIER]],
            "Metrics": [{"Name": name, "Unit": unit} for name, unit in self._metrics],
        }
        members = {DIM_SERVICE: self._service, DIM_ROUTE: route, DIM_TIER: tier}
        return (
            f'"CloudWatchMetrics":[{json.dumps(directive, separators=(",", ":"))}]}},'
            + json.dumps(members, separators=(",", ":"))[1:-1]
        )

    def _third_party(
        self,
        route: str,
        tier: str,
        api: str,
        pairs: list[tuple[float, float]],
        now_ms: int,
        request_id: str | None,
    ) -> str:
        directive = {
            "Namespace": self._namespace,
            "Dimensions": [[DIM_SERVICE, DIM_ROUTE, DIM_TIER, DIM_API]],
            "Metrics": [
                {"Name": COST_THIRD_PARTY_CALLS, "Unit": "Count"},
                {"Name": COST_THIRD_PARTY_USD, "Unit": "None"},
            ],
        }
        document: dict[str, object] = {
            "_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [directive]},
            DIM_SERVICE: self._service,
            DIM_ROUTE: route,
            DIM_TIER: tier,
            DIM_API: api,
            COST_THIRD_PARTY_CALLS: [calls for calls, _ in pairs],
            COST_THIRD_PARTY_USD: [usd for _, usd in pairs],
        }
        if request_id:
            document["request_id"] = request_id
        if self.sample > 1:
            document["sample_rate"] = self.sample
        return json.dumps(document, separators=(",", ":")) + "\n"
