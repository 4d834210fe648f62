"""The report as data (what `--json` prints, and what the table and the HTML page show).

Shape: `{"tiers": {name: {"cost", "price", "margin", ...}}, "routes": {template: {"cost",
"parts", ...}}, "warnings": [...], "prices": {...}, "deployment": {...}}`. Costs of routes are
dollars per request; costs of tiers are dollars per customer and month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tiergate.observe.measurements import RouteMeasurements
from tiergate.tiers import Tiers

from .deployment import Deployment
from .economics import HOURS_PER_MONTH, MARKUP, TierEconomics, economics, provisioned_month
from .model import Part, RouteCost, combine, route_cost
from .prices import PriceList
from .text import money

__all__ = ["build_report", "free_line", "warning_line"]


def build_report(
    tiers: Tiers,
    rows: Sequence[RouteMeasurements],
    prices: PriceList,
    deployment: Deployment,
    customers: Mapping[str, int],
) -> dict[str, Any]:
    routes = sorted({r.route for r in rows})
    per_route = {
        route: _route(route, [r for r in rows if r.route == route], prices, deployment)
        for route in routes
    }
    tier_figures = economics(tiers, rows, prices, deployment, customers)
    return {
        "tiers": {t.tier: _tier(t) for t in tier_figures},
        "routes": per_route,
        # What --strict fails on: paid tiers under the rule. A free tier is a note instead.
        "warnings": [warning_line(t) for t in tier_figures if not t.passes and not t.free],
        "free": [free_line(t) for t in tier_figures if t.free],
        "prices": {
            "as_of": prices.as_of.isoformat(),
            "origin": prices.origin,
            "region": prices.region,
            "list": {
                p.name: {
                    "value": p.value,
                    "unit": p.unit,
                    "source": p.source,
                    "date": p.date.isoformat(),
                }
                for p in prices.prices.values()
            },
        },
        "deployment": {
            "platform": deployment.platform,
            "memory_mb": deployment.memory_mb,
            "provisioned": deployment.provisioned,
            "provisioned_memory_mb": deployment.provisioned_memory_mb,
            "provisioned_month": provisioned_month(prices, deployment),
            "hours_per_month": HOURS_PER_MONTH,
            "warm_routes": sorted(deployment.warm_routes),
            "source": deployment.source,
        },
        "markup": MARKUP,
    }


def free_line(t: TierEconomics) -> str:
    return f"tier {t.tier}: free: costs {money(t.cost)} per customer a month at full quota"


def warning_line(t: TierEconomics) -> str:
    floor = f"the lowest price that passes is {money(t.lowest_price)}"
    if t.price < MARKUP * t.cost or t.overage is None:
        return (
            f"tier {t.tier}: priced {money(t.price)}, under {MARKUP:g}x its cost of"
            f" {money(t.cost)} a customer at full quota; {floor}"
        )
    o = t.overage
    return (
        f"tier {t.tier}: {money(o.revenue)} of revenue at its overage cap is under {MARKUP:g}x"
        f" its cost there of {money(o.cost)}; {floor}, or an overage unit price of"
        f" ${o.lowest_unit_price:g}"
    )


def _route(
    route: str, rows: Sequence[RouteMeasurements], prices: PriceList, deployment: Deployment
) -> dict[str, Any]:
    cost = route_cost(combine(route, rows), prices, deployment)
    return {
        **_cost(cost),
        "warm": route in deployment.warm_routes and deployment.provisioned > 0,
        "measured": _measured(combine(route, rows)),
        "tiers": {
            r.tier or "all": {"requests": r.requests, "cost": route_cost(r, prices, deployment).usd}
            for r in rows
        },
    }


def _cost(cost: RouteCost) -> dict[str, Any]:
    return {
        "requests": cost.requests,
        "cost": cost.usd,
        "parts": {p.name: _part(p) for p in cost.parts},
    }


def _part(p: Part) -> dict[str, Any]:
    return {
        "quantity": p.quantity,
        "unit": p.unit,
        "price": p.price,
        "unit_price": p.unit_price,
        "usd": p.usd,
    }


def _measured(m: RouteMeasurements) -> dict[str, Any]:
    return {
        "wall_ms": m.wall_ms,
        "cpu_ms": m.cpu_ms,
        "response_bytes": m.response_bytes,
        "redis_commands": m.redis_commands,
        "dynamodb_reads": m.dynamodb_reads,
        "dynamodb_writes": m.dynamodb_writes,
        "stripe_calls": m.stripe_calls,
        "third_party": {k: {"calls": v.calls, "usd": v.usd} for k, v in m.third_party.items()},
    }


def _tier(t: TierEconomics) -> dict[str, Any]:
    overage = None
    if t.overage is not None:
        o = t.overage
        overage = {
            "cap": o.cap,
            "unit_price": o.unit_price,
            "requests": o.requests,
            "revenue": o.revenue,
            "usage": o.usage,
            "fees": o.fees,
            "cost": o.cost,
            "margin": o.margin,
            "passes": o.passes,
            "lowest_unit_price": o.lowest_unit_price,
        }
    return {
        "cost": t.cost,
        "price": t.price,
        "margin": t.margin,
        "ratio": t.ratio,
        "passes": t.passes,
        "free": t.free,  # not held to the 3x rule: see the report's "free" notes
        "lowest_price": t.lowest_price,
        "limit": t.limit,
        "customers": t.customers,
        "cost_per_request": t.cost_per_request,
        "usage": t.usage,
        "provisioned": t.provisioned,
        "fees": t.fees,
        "mix_basis": t.mix_basis,
        "mix": {c.route: {"share": share, "cost": c.usd} for c, share in t.mix},
        "overage": overage,
    }
