"""Pricing tiers as data: loaded from the packaged default, a file, or inline JSON.

The document keeps the blueprint's shape so users can paste theirs::

    {"free": {"limit": 1000, "price": 0, "burst": 5}, "pro": {...}}

Order is meaning: the first tier is the lowest, and a route that requires a tier admits that
tier and every tier listed after it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ManyTiersWarning, TierConfigError, validation_problems
from .jsontext import read_json

__all__ = [
    "DEFAULT_ALERTS",
    "MAX_BURST",
    "MAX_LIMIT",
    "MAX_PRICE",
    "ManyTiersWarning",
    "Overage",
    "Tier",
    "Tiers",
    "check_limits",
    "load_tiers",
]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_FEATURE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_ADVISED_MAX_TIERS = 4
# GCRA spaces a tier's requests 1,000,000 // burst microseconds apart: past a million per
# second that is 0 and the limiter cannot count.
MAX_BURST = 1_000_000
# A month's quota at a million requests per second is 2.6e12; counts stay exact integers in
# Redis's Lua (doubles, exact to 2**53) far beyond it.
MAX_LIMIT = 10**13
MAX_PRICE = 1_000_000  # dollars per month: a typo guard, not a business rule
# Usage alerts, in percent of `limit`, when a tier names none.
DEFAULT_ALERTS = (80, 100)
_METER = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # a Stripe Billing meter's event name


class _OverageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    meter: str = Field(description="the Stripe Billing meter's event name")
    unit_price: float = Field(
        ge=0, le=MAX_PRICE, strict=True, allow_inf_nan=False, description="dollars per unit"
    )
    cap: int = Field(ge=0, le=MAX_LIMIT, strict=True, description="overage units per period")
    stripe_price: str | None = Field(
        default=None, description="the metered Stripe price checkout adds for the overage"
    )


class _TierSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(
        ge=0, le=MAX_LIMIT, strict=True, description="billable requests per billing period (month)"
    )
    price: float = Field(
        ge=0, le=MAX_PRICE, strict=True, allow_inf_nan=False, description="dollars per month"
    )
    burst: int = Field(ge=1, le=MAX_BURST, strict=True, description="requests per second")
    on_error: Literal["deny", "allow"] = Field(
        default="deny", description="when the limiter is unreachable: 503, or let requests in"
    )
    features: tuple[str, ...] = ()
    stripe_price: str | None = None
    overage: _OverageSpec | None = None
    alerts: tuple[int, ...] = Field(
        default=DEFAULT_ALERTS, description="usage alerts, in percent of limit"
    )


@dataclass(frozen=True, slots=True)
class Overage:
    """Usage past a tier's limit: admitted, counted and metered to Stripe, up to `cap` units
    per period."""

    meter: str
    unit_price: float
    cap: int
    stripe_price: str | None = None


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    rank: int
    limit: int
    price: float
    burst: int
    on_error: Literal["deny", "allow"]
    features: frozenset[str]
    stripe_price: str | None
    overage: Overage | None = None
    alerts: tuple[int, ...] = DEFAULT_ALERTS  # percent of limit, ascending


class Tiers(Mapping[str, Tier]):
    """An ordered, validated set of tiers, lowest first."""

    def __init__(self, tiers: list[Tier]) -> None:
        self._by_name = {t.name: t for t in tiers}

    def __getitem__(self, name: str) -> Tier:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def lowest(self) -> Tier:
        return next(iter(self._by_name.values()))

    def by_stripe_price(self, price_id: str) -> Tier | None:
        """The tier a Stripe price sells, if any tier names it (as its flat price: an
        overage's metered price is a second item of the same subscription)."""
        return next((t for t in self._by_name.values() if t.stripe_price == price_id), None)

    def require(self, name: str) -> Tier:
        """The tier called `name`, or a configuration error that lists the known ones."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name)
            raise TierConfigError(f"unknown tier {name!r}; known tiers: {known}") from None


def load_tiers(source: str | None = None) -> Tiers:
    """Tiers from `source`: inline JSON (starts with '{'), a file path, or None for the default."""
    if source is None:
        text = resources.files(__package__).joinpath("tiers.json").read_text("utf-8")
        origin = "the packaged tiers.json"
    elif source.lstrip().startswith("{"):
        text, origin = source, "TIERGATE_TIERS (inline JSON)"
    else:
        path = Path(source)
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise TierConfigError(f"cannot read tiers file {source!r}: {exc.strerror}") from None
        origin = str(path)
    return parse_tiers(text, origin)


def parse_tiers(text: str, origin: str = "tiers") -> Tiers:
    document = read_json(text, origin, error=TierConfigError)
    if not isinstance(document, dict) or not document:
        raise TierConfigError(f"{origin}: expected a non-empty object of tiers")
    tiers = [_tier(origin, rank, name, spec) for rank, (name, spec) in enumerate(document.items())]
    prices = [t.stripe_price for t in tiers if t.stripe_price]
    prices += [t.overage.stripe_price for t in tiers if t.overage and t.overage.stripe_price]
    if len(prices) != len(set(prices)):
        raise TierConfigError(
            f"{origin}: two tiers (or a tier and an overage) name the same stripe_price"
        )
    if len(tiers) > _ADVISED_MAX_TIERS:
        warnings.warn(
            f"{origin}: {len(tiers)} tiers; more than {_ADVISED_MAX_TIERS} are hard for buyers"
            " to compare",
            ManyTiersWarning,
            stacklevel=2,
        )
    return Tiers(tiers)


def _tier(origin: str, rank: int, name: str, spec: Any) -> Tier:
    if not _NAME.match(name):
        raise TierConfigError(
            f"{origin}: tier name {name!r} must be lowercase letters, digits, '-' or '_'"
        )
    try:
        parsed = _TierSpec.model_validate(spec)
    except ValidationError as exc:
        problems = validation_problems(exc, whole="tier")
        raise TierConfigError(f"{origin}: tier {name!r}: {problems}") from None
    for feature in parsed.features:
        if not _FEATURE.match(feature):
            raise TierConfigError(f"{origin}: tier {name!r}: bad feature name {feature!r}")
    overage = None
    if parsed.overage is not None:
        spec = parsed.overage
        if not _METER.match(spec.meter):
            raise TierConfigError(
                f"{origin}: tier {name!r}: overage.meter {spec.meter!r} must be 1-100 letters, "
                "digits, '-' or '_' (the Stripe meter's event name)"
            )
        if parsed.limit + spec.cap > MAX_LIMIT:
            raise TierConfigError(
                f"{origin}: tier {name!r}: limit + overage.cap over {MAX_LIMIT:,}"
            )
        overage = Overage(spec.meter, spec.unit_price, spec.cap, spec.stripe_price)
    alerts = parsed.alerts
    if any(not 1 <= a <= 1000 for a in alerts) or list(alerts) != sorted(set(alerts)):
        raise TierConfigError(
            f"{origin}: tier {name!r}: alerts must be ascending percents of limit, 1..1000, "
            f"without repeats; got {list(alerts)}"
        )
    return Tier(
        name=name,
        rank=rank,
        limit=parsed.limit,
        price=parsed.price,
        burst=parsed.burst,
        on_error=parsed.on_error,
        features=frozenset(parsed.features),
        stripe_price=parsed.stripe_price,
        overage=overage,
        alerts=tuple(alerts),
    )


def check_limits(where: str, *, limit: int, burst: int) -> None:
    """TierConfigError naming `where` unless limit and burst are ones the limiter can enforce
    (the same bounds as a tier's; for an account's overrides)."""
    if not 0 <= limit <= MAX_LIMIT:
        raise TierConfigError(f"{where}: limit {limit} is outside 0..{MAX_LIMIT:,}")
    if not 1 <= burst <= MAX_BURST:
        raise TierConfigError(f"{where}: burst {burst} is outside 1..{MAX_BURST:,}")
