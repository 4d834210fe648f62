"""The measurements of a deployment, from the EMF metrics CloudWatch extracted from its logs.

ListMetrics finds every route and tier (and third-party API) the function reported, then
GetMetricData reads, over the time range, the Sum of each cost metric and the SampleCount
of the wall time (one sample per request measured), in batches of up to 500 queries; and,
for requests measured 1 in N, the Sum and SampleCount of Requests (N per request measured),
so that the requests served are counted, not just those measured. The means are
sums over requests, exactly as the local recording computes them, so both sources give the
same RouteMeasurements for the same requests.

CloudWatch keeps one-minute data for 15 days, five-minute data for 63, hourly for 455: the
period is the whole range rounded up to what the range's age allows, so each query answers
with one or a few data points, which are added up. EMF delivery is at least once: a log
event delivered twice counts twice.

ListMetrics lists only metrics with data in the past two weeks (a SEARCH expression is
bound the same way): a route with no request in the last 14 days is left out of a longer
range, though its older data points are still kept. docs/measuring.md and --since say so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from tiergate.observe.measurements import RouteMeasurements
from tiergate.observe.totals import FIELDS, means
from tiergate.telemetry import (
    COST_METRICS,
    COST_REQUESTS,
    COST_THIRD_PARTY_CALLS,
    COST_THIRD_PARTY_USD,
    COST_WALL,
    DIM_API,
    DIM_ROUTE,
    DIM_SERVICE,
    DIM_TIER,
)

__all__ = ["cloudwatch_measurements", "period_for"]

_BATCH = 500  # GetMetricData's most queries per call
_DAY_S = 86_400


def period_for(start_ms: int, end_ms: int) -> int:
    """Seconds: the whole range, in the resolution CloudWatch still keeps for its start."""
    span_s = max(1, (end_ms - start_ms + 999) // 1000)
    step = 60 if span_s <= 15 * _DAY_S else 300 if span_s <= 63 * _DAY_S else 3600
    return -(-span_s // step) * step


async def cloudwatch_measurements(
    client: Any, *, namespace: str, service: str, start_ms: int, end_ms: int
) -> list[RouteMeasurements]:
    """`client`: a boto3 CloudWatch client (its calls run in a worker thread)."""
    return await asyncio.to_thread(_read, client, namespace, service, start_ms, end_ms)


def _read(
    client: Any, namespace: str, service: str, start_ms: int, end_ms: int
) -> list[RouteMeasurements]:
    routes = sorted({(d[DIM_ROUTE], d[DIM_TIER]) for d in _listed(client, namespace, service,
                                                                  COST_WALL)})  # fmt: skip
    apis = sorted(
        {
            (d[DIM_ROUTE], d[DIM_TIER], d[DIM_API])
            for d in _listed(client, namespace, service, COST_THIRD_PARTY_CALLS)
            if DIM_API in d
        }
    )
    queries: list[dict[str, Any]] = []
    for i, (route, tier) in enumerate(routes):
        dims = _dimensions(service, route, tier)
        queries.append(_query(f"r{i}n", namespace, COST_WALL, dims, "SampleCount"))
        # Documents of requests measured 1 in N carry COST_REQUESTS, N each.
        queries.append(_query(f"r{i}s", namespace, COST_REQUESTS, dims, "Sum"))
        queries.append(_query(f"r{i}k", namespace, COST_REQUESTS, dims, "SampleCount"))
        for j, (metric, _) in enumerate(COST_METRICS):
            queries.append(_query(f"r{i}m{j}", namespace, metric, dims, "Sum"))
    for k, (route, tier, api) in enumerate(apis):
        dims = [*_dimensions(service, route, tier), {"Name": DIM_API, "Value": api}]
        queries.append(_query(f"t{k}c", namespace, COST_THIRD_PARTY_CALLS, dims, "Sum"))
        queries.append(_query(f"t{k}u", namespace, COST_THIRD_PARTY_USD, dims, "Sum"))
    period = period_for(start_ms, end_ms)
    for query in queries:
        query["MetricStat"]["Period"] = period
    sums = _sums(client, queries, start_ms, end_ms)
    third: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    for k, (route, tier, api) in enumerate(apis):
        calls, usd = sums.get(f"t{k}c", 0.0), sums.get(f"t{k}u", 0.0)
        if calls or usd:
            third.setdefault((route, tier), {})[api] = (calls, usd)
    found = []
    for i, (route, tier) in enumerate(routes):
        requests = round(sums.get(f"r{i}n", 0.0))
        if not requests:
            continue  # reported once, but not in this range
        values = {name: sums.get(f"r{i}m{j}", 0.0) for j, name in enumerate(FIELDS)}
        # Each request measured 1 in N stands for N; any measured before sampling, for one.
        sampled = round(sums.get(f"r{i}k", 0.0))
        served = requests - sampled + round(sums.get(f"r{i}s", 0.0))
        third_party = third.get((route, tier), {})
        found.append(means(route, tier, requests, values, third_party, served=served))
    return found


def _listed(client: Any, namespace: str, service: str, metric: str) -> Iterator[dict[str, str]]:
    """The dimensions of each `metric` of the service, as {name: value}."""
    paginator = client.get_paginator("list_metrics")
    pages = paginator.paginate(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": DIM_SERVICE, "Value": service}],
    )
    for page in pages:
        for listed in page.get("Metrics", []):
            dims = {d["Name"]: d["Value"] for d in listed.get("Dimensions", [])}
            if DIM_ROUTE in dims and DIM_TIER in dims:
                yield dims


def _dimensions(service: str, route: str, tier: str) -> list[dict[str, str]]:
    return [
        {"Name": DIM_SERVICE, "Value": service},
        {"Name": DIM_ROUTE, "Value": route},
        {"Name": DIM_TIER, "Value": tier},
    ]


def _query(
    query_id: str, namespace: str, metric: str, dims: list[dict[str, str]], stat: str
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _sums(
    client: Any, queries: Sequence[dict[str, Any]], start_ms: int, end_ms: int
) -> dict[str, float]:
    start = datetime.fromtimestamp(start_ms / 1000, UTC)
    end = datetime.fromtimestamp(end_ms / 1000, UTC)
    sums: dict[str, float] = {}
    for first in range(0, len(queries), _BATCH):
        batch = list(queries[first : first + _BATCH])
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            answer = client.get_metric_data(
                MetricDataQueries=batch, StartTime=start, EndTime=end, **extra
            )
            for result in answer.get("MetricDataResults", []):
                sums[result["Id"]] = sums.get(result["Id"], 0.0) + sum(result.get("Values", []))
            token = answer.get("NextToken")
            if not token:
                break
    return sums
