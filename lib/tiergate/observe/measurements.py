"""What the measurement of gated requests hands the cost report: per route and tier, the
mean of each measured quantity over `requests` requests.

Both producers (the live recording of `tiergate serve`, CloudWatch's EMF metrics, the
in-process `--profile` run) and the report (`tiergate costs`) speak this type and nothing
else, so a figure in the report can be traced to a measurement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["RouteMeasurements", "ThirdPartyCalls"]


@dataclass(frozen=True, slots=True)
class ThirdPartyCalls:
    """Calls to one third-party API, per request on average, and what they cost."""

    calls: float
    usd: float  # dollars per request on average


@dataclass(frozen=True, slots=True)
class RouteMeasurements:
    route: str  # the route template, e.g. "/v1/hello"
    tier: str  # the caller's tier ("" : all tiers together)
    # The requests served; the means are over those measured, all of them unless 1 in N was
    # (TIERGATE_MEASURE_SAMPLE): then this is N per request measured, an estimate.
    requests: int
    wall_ms: float  # billed duration: wall time of the request in the function
    cpu_ms: float
    response_bytes: float  # egress
    redis_commands: float  # Upstash bills per command
    dynamodb_reads: float  # read request units
    dynamodb_writes: float  # write request units
    stripe_calls: float
    third_party: Mapping[str, ThirdPartyCalls] = field(default_factory=dict)
