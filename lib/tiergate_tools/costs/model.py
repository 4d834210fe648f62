"""The cost of a request, part by part: a measured quantity times a unit price. Pure: no I/O.

Every part names the measurement it comes from and the price list entry it is priced at, so
each figure of the report can be recomputed by hand:

| part | quantity per request | price (Lambda) | price (Vercel) |
|---|---|---|---|
| compute | wall ms / 1000 x memory GB (GB-seconds) | lambda_<arch>_gb_second (1) | - |
| cpu | cpu ms / 3,600,000 (CPU-hours) | - | vercel_active_cpu_hour |
| memory | wall ms / 3,600,000 x memory GB (GB-hours) | - | vercel_memory_gb_hour |
| requests | 1 | lambda_<arch>_request | vercel_invocation |
| gateway | 1 | api_gateway_http_request | vercel_edge_request |
| egress | response bytes / 2**30 (GB) | aws_egress_gb | vercel_data_transfer_gb |
| redis | Redis commands | upstash_command | upstash_command |
| dynamodb_reads / _writes | request units | dynamodb_read_unit / _write_unit | same |
| stripe | Stripe calls | stripe_api_call | same |
| third_party:NAME | calls | what the endpoint recorded (dollars) | same |

(1) lambda_<arch>_provisioned_duration_gb_second on a route the warm function serves.

On Vercel, provisioned memory is billed for an instance's lifetime and shared by the requests
it serves at once: charging each request its own wall time is the bound for one at a time.
Duration is the mean wall time, not rounded up to Lambda's whole millisecond per request
(at most 1 ms more each); free tiers (Lambda's million requests, Upstash's 500K commands) are
left out: the report prices the margin at scale, where they are negligible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tiergate.observe.measurements import RouteMeasurements, ThirdPartyCalls

from .deployment import Deployment
from .prices import PriceList

__all__ = ["GIB", "Part", "RouteCost", "combine", "route_cost"]

GIB = 2**30  # AWS and Vercel bill data transfer per GB of 2**30 bytes
_MS_PER_HOUR = 3_600_000


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    quantity: float  # per request, in `unit`
    unit: str
    price: str  # the price list entry, or "measured" for a third party's recorded dollars
    unit_price: float  # dollars per unit

    @property
    def usd(self) -> float:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class RouteCost:
    route: str
    tier: str
    requests: int
    parts: tuple[Part, ...]

    @property
    def usd(self) -> float:
        """Dollars per request."""
        return sum(p.usd for p in self.parts)


def route_cost(m: RouteMeasurements, prices: PriceList, deployment: Deployment) -> RouteCost:
    def part(name: str, quantity: float, price: str) -> Part:
        return Part(name, quantity, prices.prices[price].unit, price, prices.usd(price))

    if deployment.platform == "vercel":
        gb = deployment.memory_gb
        platform = [
            part("cpu", m.cpu_ms / _MS_PER_HOUR, "vercel_active_cpu_hour"),
            part("memory", m.wall_ms / _MS_PER_HOUR * gb, "vercel_memory_gb_hour"),
            part("requests", 1.0, "vercel_invocation"),
            part("gateway", 1.0, "vercel_edge_request"),
            part("egress", m.response_bytes / GIB, "vercel_data_transfer_gb"),
        ]
    else:
        arch = "arm64" if deployment.platform == "lambda-arm64" else "x86"
        warm = m.route in deployment.warm_routes and deployment.provisioned > 0
        gb = (deployment.provisioned_memory_mb if warm else deployment.memory_mb) / 1024
        duration = f"lambda_{arch}_provisioned_duration_gb_second" if warm else None
        platform = [
            part("compute", m.wall_ms / 1000 * gb, duration or f"lambda_{arch}_gb_second"),
            part("requests", 1.0, f"lambda_{arch}_request"),
            part("gateway", 1.0, "api_gateway_http_request"),
            part("egress", m.response_bytes / GIB, "aws_egress_gb"),
        ]
    stores = [
        part("redis", m.redis_commands, "upstash_command"),
        part("dynamodb_reads", m.dynamodb_reads, "dynamodb_read_unit"),
        part("dynamodb_writes", m.dynamodb_writes, "dynamodb_write_unit"),
        part("stripe", m.stripe_calls, "stripe_api_call"),
    ]
    third = [_third_party(name, calls) for name, calls in sorted(m.third_party.items())]
    return RouteCost(m.route, m.tier, m.requests, (*platform, *stores, *third))


def _third_party(name: str, calls: ThirdPartyCalls) -> Part:
    if calls.calls > 0:
        return Part(f"third_party:{name}", calls.calls, "call", "measured", calls.usd / calls.calls)
    # A fixed cost declared per request, with no calls counted.
    return Part(f"third_party:{name}", 1.0, "request", "measured", calls.usd)


def combine(route: str, rows: Sequence[RouteMeasurements]) -> RouteMeasurements:
    """One row for `route` over all tiers: its all-tiers row (tier "") where the source gave
    one, else its tiers' rows with each mean weighted by its request count. Cost is linear in
    every measured quantity, so the cost of the combined row is the request-weighted mean of
    the rows' costs."""
    rows = [r for r in rows if r.tier == ""] or rows
    total = sum(r.requests for r in rows)
    weights = [r.requests / total if total else 1 / len(rows) for r in rows]

    def mean(values: Iterable[float]) -> float:
        return sum(w * v for w, v in zip(weights, values, strict=True))

    names = sorted({name for r in rows for name in r.third_party})
    none = ThirdPartyCalls(0.0, 0.0)
    third = {
        name: ThirdPartyCalls(
            mean(r.third_party.get(name, none).calls for r in rows),
            mean(r.third_party.get(name, none).usd for r in rows),
        )
        for name in names
    }
    return RouteMeasurements(
        route=route,
        tier="",
        requests=total,
        wall_ms=mean(r.wall_ms for r in rows),
        cpu_ms=mean(r.cpu_ms for r in rows),
        response_bytes=mean(r.response_bytes for r in rows),
        redis_commands=mean(r.redis_commands for r in rows),
        dynamodb_reads=mean(r.dynamodb_reads for r in rows),
        dynamodb_writes=mean(r.dynamodb_writes for r in rows),
        stripe_calls=mean(r.stripe_calls for r in rows),
        third_party=third,
    )
