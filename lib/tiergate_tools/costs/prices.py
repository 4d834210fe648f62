"""Unit prices: a packaged, dated list (`prices.json`), each price with its source.

`TIERGATE_PRICES` (a path, or the JSON itself) is merged over the packaged list: it names
only the prices it changes, and each one it names replaces the packaged entry whole (so a
changed price always comes with its own source and date). A name the list does not know is
refused, like a misspelt tier field: a typo must not leave the packaged price silently in
force.

    {"prices": {"upstash_command": {"usd": 0.0000018, "per": "command",
                                    "source": "https://... our contract", "date": "2026-11-01"}}}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tiergate.errors import ConfigError, validation_problems
from tiergate.jsontext import read_json, read_json_file

__all__ = ["PRICE_UNITS", "Price", "PriceList", "load_prices", "parse_prices"]

MAX_UNIT_USD = 1000.0  # dollars per unit: a typo guard (the largest real one is $0.30)
MAX_PERCENT = 10.0  # of a charge: past a third the 3x rule could never be met at any price

# Every price the cost model reads, with its unit ("%" for a percent of a charge).
PRICE_UNITS: Mapping[str, str] = {
    "lambda_arm64_gb_second": "GB-second",
    "lambda_x86_gb_second": "GB-second",
    "lambda_arm64_request": "request",
    "lambda_x86_request": "request",
    "lambda_arm64_provisioned_gb_second": "GB-second",
    "lambda_x86_provisioned_gb_second": "GB-second",
    "lambda_arm64_provisioned_duration_gb_second": "GB-second",
    "lambda_x86_provisioned_duration_gb_second": "GB-second",
    "api_gateway_http_request": "request",
    "aws_egress_gb": "GB",
    "vercel_active_cpu_hour": "CPU-hour",
    "vercel_memory_gb_hour": "GB-hour",
    "vercel_invocation": "request",
    "vercel_edge_request": "request",
    "vercel_data_transfer_gb": "GB",
    "upstash_command": "command",
    "dynamodb_read_unit": "read request unit",
    "dynamodb_write_unit": "write request unit",
    "stripe_api_call": "call",
    "stripe_card_percent": "%",
    "stripe_card_fixed": "charge",
    "stripe_billing_percent": "%",
}


class _Sourced(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(pattern=r"^https://\S+$", max_length=500, description="where it is said")
    date: dt.date = Field(description="when the price was read there")
    note: str | None = Field(default=None, max_length=300)


class _RateSpec(_Sourced):
    usd: float = Field(ge=0, le=MAX_UNIT_USD, strict=True, allow_inf_nan=False)
    per: str | None = None


class _PercentSpec(_Sourced):
    percent: float = Field(ge=0, le=MAX_PERCENT, strict=True, allow_inf_nan=False)


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: dt.date | None = None
    currency: Literal["USD"] = "USD"
    region: str | None = Field(default=None, max_length=200)
    prices: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Price:
    name: str
    value: float  # dollars per `unit`, or a percent when unit is "%"
    unit: str
    source: str
    date: dt.date
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PriceList:
    as_of: dt.date
    origin: str  # "packaged", or what TIERGATE_PRICES named on top of it
    region: str | None
    prices: Mapping[str, Price]

    def usd(self, name: str) -> float:
        """Dollars per unit of price `name`."""
        return self.prices[name].value

    def fraction(self, name: str) -> float:
        """A percent price as a fraction of the charge (2.9 -> 0.029)."""
        return self.prices[name].value / 100


def load_prices(override: str | None = None) -> PriceList:
    """The packaged list, with `override` (TIERGATE_PRICES: a path or the JSON) merged over it."""
    text = resources.files(__package__).joinpath("prices.json").read_text("utf-8")
    packaged = parse_prices(text, "the packaged prices.json")
    if override is None:
        return packaged
    if override.lstrip().startswith("{"):
        text, origin = override, "TIERGATE_PRICES (inline JSON)"
    else:
        raw, origin = read_json_file(override, "prices file"), override
        return merge(packaged, _parse_raw(raw, origin, complete=False), origin)
    return merge(packaged, _parse(text, origin, complete=False), origin)


def parse_prices(text: str, origin: str = "prices") -> PriceList:
    """A complete price list (every price in PRICE_UNITS) from its JSON text."""
    as_of, region, prices = _parse(text, origin, complete=True)
    if as_of is None:
        raise ConfigError(f"{origin}: as_of: a complete price list needs its date")
    return PriceList(as_of, "packaged", region, prices)


def merge(
    base: PriceList, override: tuple[dt.date | None, str | None, dict[str, Price]], origin: str
) -> PriceList:
    as_of, region, prices = override
    return PriceList(
        as_of=as_of or max([base.as_of, *(p.date for p in prices.values())]),
        origin=f"packaged, with {origin} over it",
        region=region or base.region,
        prices={**base.prices, **prices},
    )


def _parse(
    text: str, origin: str, *, complete: bool
) -> tuple[dt.date | None, str | None, dict[str, Price]]:
    return _parse_raw(read_json(text, origin), origin, complete=complete)


def _parse_raw(
    raw: Any, origin: str, *, complete: bool
) -> tuple[dt.date | None, str | None, dict[str, Price]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected an object with a `prices` member")
    try:
        document = _Document.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {validation_problems(exc)}") from None
    prices = {name: _price(origin, name, spec) for name, spec in document.prices.items()}
    missing = [name for name in PRICE_UNITS if name not in prices]
    if complete and missing:
        raise ConfigError(f"{origin}: prices: missing {', '.join(missing)}")
    return document.as_of, document.region, prices


def _price(origin: str, name: str, spec: Any) -> Price:
    unit = PRICE_UNITS.get(name)
    if unit is None:
        raise ConfigError(
            f"{origin}: prices.{name}: unknown price; known: {', '.join(PRICE_UNITS)}"
        )
    where = ("prices", name)
    try:
        if unit == "%":
            percent = _PercentSpec.model_validate(spec)
            return Price(name, percent.percent, unit, percent.source, percent.date, percent.note)
        rate = _RateSpec.model_validate(spec)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {validation_problems(exc, where)}") from None
    if rate.per is not None and rate.per != unit:
        raise ConfigError(
            f"{origin}: prices.{name}.per: this price is per {unit!r}, not per {rate.per!r}"
        )
    return Price(name, rate.usd, unit, rate.source, rate.date, rate.note)
