"""Measurements added up by hour, route and tier: what the local recording keeps and the
`--profile` run collects, turned into the report's RouteMeasurements (means per request).

Sums, not samples: the recording stays a few hundred bytes per route and tier per hour
whatever the traffic, and a mean over any set of hours is the sum of their sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .costmeter import Measured
from .measurements import RouteMeasurements, ThirdPartyCalls

__all__ = ["HOUR_MS", "Totals"]

HOUR_MS = 3_600_000
# The summed fields, in Measured's order (COST_METRICS), as the file names them.
FIELDS = (
    "wall_ms",
    "cpu_ms",
    "response_bytes",
    "redis_commands",
    "dynamodb_reads",
    "dynamodb_writes",
    "stripe_calls",
)

_Key = tuple[int, str, str]  # (hour start ms, route, tier)


class _Sums:
    __slots__ = ("requests", "served", "third_party", "values")

    def __init__(self) -> None:
        self.requests = 0  # measured
        self.served = 0  # the requests those stand for (N each when 1 in N is measured)
        self.values = [0.0] * len(FIELDS)
        self.third_party: dict[str, list[float]] = {}  # api -> [calls, dollars]

    def add_third_party(self, api: str, calls: float, usd: float) -> None:
        entry = self.third_party.setdefault(api, [0.0, 0.0])
        entry[0] += calls
        entry[1] += usd


class Totals:
    def __init__(self) -> None:
        self._sums: dict[_Key, _Sums] = {}

    def __bool__(self) -> bool:
        return bool(self._sums)

    def add(self, m: Measured, at_ms: int) -> None:
        key = (at_ms - at_ms % HOUR_MS, m.route, m.tier)
        sums = self._sums.get(key)
        if sums is None:
            sums = self._sums[key] = _Sums()
        sums.requests += 1
        sums.served += m.requests
        values = sums.values
        for i, value in enumerate(m.values()):
            values[i] += value
        for api, (calls, usd) in m.third_party.items():
            sums.add_third_party(api, calls, usd)

    def merge(self, other: Totals) -> None:
        for key, theirs in other._sums.items():
            ours = self._sums.get(key)
            if ours is None:
                ours = self._sums[key] = _Sums()
            ours.requests += theirs.requests
            ours.served += theirs.served
            ours.values = [a + b for a, b in zip(ours.values, theirs.values, strict=True)]
            for api, (calls, usd) in theirs.third_party.items():
                ours.add_third_party(api, calls, usd)

    def drop_before(self, cutoff_ms: int) -> None:
        """Forget the hours that ended by `cutoff_ms` (the recording's retention)."""
        for key in [k for k in self._sums if k[0] + HOUR_MS <= cutoff_ms]:
            del self._sums[key]

    def measurements(self, since_ms: int | None = None) -> list[RouteMeasurements]:
        """Means per route and tier over the hours that end after `since_ms` (whole hours:
        the recording's resolution), sorted by route then tier."""
        grouped: dict[tuple[str, str], _Sums] = {}
        for (hour, route, tier), sums in self._sums.items():
            if since_ms is not None and hour + HOUR_MS <= since_ms:
                continue
            into = grouped.setdefault((route, tier), _Sums())
            into.requests += sums.requests
            into.served += sums.served
            into.values = [a + b for a, b in zip(into.values, sums.values, strict=True)]
            for api, (calls, usd) in sums.third_party.items():
                into.add_third_party(api, calls, usd)
        found = []
        for (route, tier), s in sorted(grouped.items()):
            if s.requests:
                values = dict(zip(FIELDS, s.values, strict=True))
                found.append(means(route, tier, s.requests, values, s.third_party, served=s.served))
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "hours": [
                {
                    "hour": hour,
                    "route": route,
                    "tier": tier,
                    "requests": s.requests,
                    "served": s.served,
                    **dict(zip(FIELDS, s.values, strict=True)),
                    "third_party": {api: list(v) for api, v in s.third_party.items()},
                }
                for (hour, route, tier), s in sorted(self._sums.items())
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Totals:
        """Raises ValueError (KeyError, TypeError) on anything but what to_json wrote."""
        if data.get("version") != 1:
            raise ValueError(f"unknown version {data.get('version')!r}")
        totals = cls()
        for row in data["hours"]:
            sums = _Sums()
            sums.requests = int(row["requests"])
            sums.served = int(row.get("served", sums.requests))  # files from before sampling
            sums.values = [float(row[name]) for name in FIELDS]
            for api, (calls, usd) in dict(row.get("third_party") or {}).items():
                sums.add_third_party(str(api), float(calls), float(usd))
            totals._sums[(int(row["hour"]), str(row["route"]), str(row["tier"]))] = sums
        return totals


def means(
    route: str,
    tier: str,
    requests: int,
    sums: Mapping[str, float],
    third_party: Mapping[str, Iterable[float]],
    *,
    served: int | None = None,
) -> RouteMeasurements:
    """RouteMeasurements from sums over `requests` measured requests (FIELDS' names), which
    stand for `served` (default: as many; more when 1 in N was measured)."""
    n = requests or 1

    def mean(name: str) -> float:
        return sums.get(name, 0.0) / n

    calls = {}
    for api, pair in sorted(third_party.items()):
        count, usd = pair
        calls[api] = ThirdPartyCalls(calls=count / n, usd=usd / n)
    return RouteMeasurements(
        route=route,
        tier=tier,
        requests=requests if served is None else served,
        wall_ms=mean("wall_ms"),
        cpu_ms=mean("cpu_ms"),
        response_bytes=mean("response_bytes"),
        redis_commands=mean("redis_commands"),
        dynamodb_reads=mean("dynamodb_reads"),
        dynamodb_writes=mean("dynamodb_writes"),
        stripe_calls=mean("stripe_calls"),
        third_party=calls,
    )
