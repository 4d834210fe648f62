"""Whether each tier makes money: the cost of a customer who uses the whole quota, against
the tier's price, with the rule that a tier is priced at three times its cost at least. Pure.

How a tier's cost is built, per customer and month:

- **Route mix.** A customer of the tier calls the routes in the proportions the tier's own
  measured requests show (each route's share = its request count for that tier / the tier's
  requests). A tier with no measured requests takes the mix of all tiers together. Its
  cost per request is the mix-weighted mean of those routes' costs for that tier.
- **Usage** = `limit` x cost per request. `limit` counts quota units; a route declared with
  `requires(cost=N)` spends N per request, so at most limit/N requests: counting one unit per
  request overstates the cost of such routes, never understates it.
- **Warm instances.** The provisioned minimum is billed every hour of the month (730 h)
  whether used or not. The tiers above the lowest (those the warm function is for) carry
  it, split between them by their expected volume (customers x limit), and each tier's part
  is spread over its customers (`--customers pro=40`; a tier not named counts one customer,
  the case where a customer carries the most).
- **Payment fees**: the card fee (percent + fixed) and Stripe Billing's percent, on the
  month's charge (the price, plus the overage revenue at the cap); nothing when nothing is
  charged.
- **At the cap** (tiers with overage): `limit + cap` requests, and `cap x unit_price` more
  revenue; the tier must pass there too.
- **Lowest passing price**: the least price with price >= 3 x cost, fees on that price
  included, at full quota and at the cap; rounded up to the cent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tiergate.observe.measurements import RouteMeasurements
from tiergate.tiers import Tier, Tiers

from .deployment import Deployment
from .model import RouteCost, combine, route_cost
from .prices import PriceList

__all__ = [
    "HOURS_PER_MONTH",
    "MARKUP",
    "OverageEconomics",
    "TierEconomics",
    "economics",
    "provisioned_month",
]

MARKUP = 3.0  # the blueprint's rule: price every tier at three times its cost at least
HOURS_PER_MONTH = 730  # AWS's month for hourly prices


@dataclass(frozen=True, slots=True)
class OverageEconomics:
    cap: int
    unit_price: float
    requests: int  # limit + cap
    revenue: float  # price + cap x unit_price
    usage: float
    fees: float
    cost: float
    margin: float
    passes: bool
    lowest_unit_price: float  # the least unit price at which each overage unit passes alone


@dataclass(frozen=True, slots=True)
class TierEconomics:
    tier: str
    price: float
    limit: int
    customers: int
    mix_basis: str  # "measured for this tier" or "all tiers together"
    mix: tuple[tuple[RouteCost, float], ...]  # (route cost for this tier, share of requests)
    cost_per_request: float
    usage: float  # dollars: limit x cost_per_request
    provisioned: float  # dollars: this customer's share of the warm instances
    fees: float
    cost: float
    margin: float  # price - cost
    passes: bool  # price >= 3 x cost (and at the cap, where there is one)
    lowest_price: float
    overage: OverageEconomics | None

    @property
    def free(self) -> bool:
        """Priced 0 with no overage revenue: no price passes 3x of a cost, so it is reported
        as what each of its customers costs, not held to the rule (nor failed by --strict)."""
        return self.price == 0 and self.overage is None

    @property
    def ratio(self) -> float | None:
        return self.price / self.cost if self.cost > 0 else None


def provisioned_month(prices: PriceList, deployment: Deployment) -> float:
    """Dollars a month for the warm instances: instances x GB x seconds in the month x rate."""
    if deployment.platform == "vercel" or deployment.provisioned == 0:
        return 0.0
    arch = "arm64" if deployment.platform == "lambda-arm64" else "x86"
    gb_seconds = (
        deployment.provisioned * deployment.provisioned_memory_mb / 1024 * 3600 * HOURS_PER_MONTH
    )
    return gb_seconds * prices.usd(f"lambda_{arch}_provisioned_gb_second")


def economics(
    tiers: Tiers,
    rows: Sequence[RouteMeasurements],
    prices: PriceList,
    deployment: Deployment,
    customers: Mapping[str, int],
) -> list[TierEconomics]:
    warm = provisioned_month(prices, deployment)
    paid = [t for t in tiers.values() if t.rank > 0]
    volume = {t.name: customers.get(t.name, 1) * t.limit for t in paid}
    total_volume = sum(volume.values())
    out = []
    for tier in tiers.values():
        count = customers.get(tier.name, 1)
        if tier.rank == 0 or not paid:
            share = 0.0
        elif total_volume:
            share = warm * volume[tier.name] / total_volume / count
        else:
            share = warm / len(paid) / count
        out.append(_tier(tier, count, rows, prices, deployment, share))
    return out


def _tier(
    tier: Tier,
    customers: int,
    rows: Sequence[RouteMeasurements],
    prices: PriceList,
    deployment: Deployment,
    provisioned: float,
) -> TierEconomics:
    own = [r for r in rows if r.tier == tier.name]
    basis = "measured for this tier"
    if not any(r.requests for r in own):
        own = [combine(route, [r for r in rows if r.route == route]) for route in _routes(rows)]
        basis = "all tiers together"
    mix = _mix([route_cost(r, prices, deployment) for r in own])
    per_request = sum(cost.usd * share for cost, share in mix)
    rate = prices.fraction("stripe_card_percent") + prices.fraction("stripe_billing_percent")
    fixed = prices.usd("stripe_card_fixed")

    def fees(charge: float) -> float:
        return charge * rate + fixed if charge > 0 else 0.0

    def lowest(base: float, extra_revenue: float) -> float:
        # price + extra >= 3 (base + fixed + rate (price + extra))
        return MARKUP * (base + fixed) / (1 - MARKUP * rate) - extra_revenue if base > 0 else 0.0

    usage = tier.limit * per_request
    cost = usage + provisioned + fees(tier.price)
    passes = tier.price >= MARKUP * cost
    floors = [lowest(usage + provisioned, 0.0)]
    overage = None
    if tier.overage is not None:
        over = tier.overage
        requests = tier.limit + over.cap
        revenue = tier.price + over.cap * over.unit_price
        cap_usage = requests * per_request
        cap_cost = cap_usage + provisioned + fees(revenue)
        floors.append(lowest(cap_usage + provisioned, over.cap * over.unit_price))
        overage = OverageEconomics(
            cap=over.cap,
            unit_price=over.unit_price,
            requests=requests,
            revenue=revenue,
            usage=cap_usage,
            fees=fees(revenue),
            cost=cap_cost,
            margin=revenue - cap_cost,
            passes=revenue >= MARKUP * cap_cost,
            lowest_unit_price=_cents_up(MARKUP * per_request / (1 - MARKUP * rate), 6),
        )
        passes = passes and overage.passes
    return TierEconomics(
        tier=tier.name,
        price=tier.price,
        limit=tier.limit,
        customers=customers,
        mix_basis=basis,
        mix=mix,
        cost_per_request=per_request,
        usage=usage,
        provisioned=provisioned,
        fees=fees(tier.price),
        cost=cost,
        margin=tier.price - cost,
        passes=passes,
        lowest_price=_cents_up(max(0.0, *floors), 2),
        overage=overage,
    )


def _routes(rows: Sequence[RouteMeasurements]) -> list[str]:
    return sorted({r.route for r in rows})


def _mix(costs: Sequence[RouteCost]) -> tuple[tuple[RouteCost, float], ...]:
    total = sum(c.requests for c in costs)
    if not costs:
        return ()
    if total == 0:
        return tuple((c, 1 / len(costs)) for c in costs)
    return tuple((c, c.requests / total) for c in costs if c.requests)


def _cents_up(value: float, digits: int) -> float:
    """Rounded up at `digits` decimals (a hair of float noise is not a cent more)."""
    scale = 10.0**digits
    return math.ceil(value * scale - 1e-6) / scale
