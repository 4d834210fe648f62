"""`tiergate costs --profile`: measure an app by driving it in-process, when nothing has been
recorded yet.

The app is built over the in-process stores (never the configured Redis, table or Stripe:
a profile must not spend a customer's quota or a real call), with a demo key per tier, and
every gated route is called `requests` times by every tier allowed to, through httpx's ASGI
transport. The requests are measured exactly as production measures them (the same cost
meter, the same counted store: Redis commands are what Upstash would bill), and one
warm-up request per tier first keeps each key's first-use miss out of the figures.

Representative, not real: path parameters are filled with "1", bodies are `{}`, and the
in-process store's CPU stands in for Upstash's HTTP round trip (its CPU is that of the lean
transport, not measured here). The time the caller's network adds to a request is not in
it either. Record `tiergate serve` or read production (CloudWatch) for the real mix.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from contextlib import redirect_stdout

import httpx
from fastapi import FastAPI

from tiergate.clock import FakeClock, SystemClock
from tiergate.config import Settings
from tiergate.observe.costmeter import CostMeter
from tiergate.observe.cpu import CpuShares
from tiergate.observe.measurements import RouteMeasurements
from tiergate.observe.recording import MemoryRecorder
from tiergate.web.requirements import all_routes, requirement_of
from tiergate.wiring import Parts, build

__all__ = ["profile"]

_PARAM = re.compile(r"\{[^}]*\}")
_NOT_PROFILED = ("/billing/",)  # tiergate's own Checkout and Portal: they call Stripe
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

AppFactory = Callable[[Settings, Parts], FastAPI]


def _example(settings: Settings, parts: Parts) -> FastAPI:
    from tiergate.web.example import create_app

    return create_app(settings, parts=parts)


async def profile(
    settings: Settings, *, app: AppFactory = _example, requests: int = 25
) -> list[RouteMeasurements]:
    """Measurements of every gated route of the app `app(settings, parts)` builds (default:
    the example app `tiergate serve` runs), per tier allowed on it."""
    local = settings.replace(
        env="development",
        upstash_redis_rest_url=None,
        upstash_redis_rest_token=None,
        table=None,
        stripe_secret_key=None,
        measure=True,
        measure_sample=1,  # every one of its few requests (production samples by default)
        record_costs=False,
        log_json=False,
    )
    # The burst bucket refills on the store's clock: one request per key per clock second
    # keeps every tier within its burst, so no request is a denial.
    clock = FakeClock(SystemClock().now_ms())
    parts = build(local, clock=clock)
    built = app(local, parts)
    meter = built.state.tiergate_costs
    if not isinstance(meter, CostMeter):
        raise RuntimeError("the app was not built with tiergate.install()")
    # No back-to-back rule (gap_s=0): between two requests here the CPU is the in-process
    # httpx client's, not the server's taking the next request in, so a request is charged
    # only the CPU from its own start to its end. And this thread's CPU only: the app runs on
    # it, and another thread of the process (a test runner's servers) is not its cost.
    meter.shares = CpuShares(time.thread_time, gap_s=0)
    keys = await parts.demo_keys()
    calls = _calls(built, local.gate.prefix)
    recorder = MemoryRecorder()
    transport = httpx.ASGITransport(app=built)
    # The app's EMF lines and logs are the profile's raw material, not the command's output.
    with redirect_stdout(io.StringIO()):
        await _drive(transport, meter, recorder, calls, parts, keys, clock, requests)
    await parts.aclose()
    return recorder.totals.measurements()


async def _drive(
    transport: httpx.ASGITransport,
    meter: CostMeter,
    recorder: MemoryRecorder,
    calls: list[tuple[str, str, int, str | None]],
    parts: Parts,
    keys: dict[str, str],
    clock: FakeClock,
    requests: int,
) -> None:
    async with httpx.AsyncClient(transport=transport, base_url="http://profile") as client:
        for warm in (False, True):
            if warm:
                meter.sinks.append(recorder)
            for method, path, min_rank, feature in calls:
                for tier in parts.tiers.values():
                    if tier.rank < min_rank or (feature and feature not in tier.features):
                        continue
                    rounds = min(requests, max(1, tier.limit // (2 * len(calls) or 1)))
                    for _ in range(rounds if warm else 1):
                        clock.advance(1_000)
                        body: dict[str, object] | None = {} if method in _BODY_METHODS else None
                        await client.request(
                            method, path, headers={"X-API-Key": keys[tier.name]}, json=body
                        )
                if not warm:
                    break  # one route warms every tier's key
    meter.sinks.remove(recorder)
    meter.drain(0)  # its EMF lines are not for anyone: the recorder has the figures


def _calls(app: FastAPI, prefix: str) -> list[tuple[str, str, int, str | None]]:
    """(method, concrete path, the lowest rank allowed, the feature needed) per route."""
    parts: Parts = app.state.tiergate
    found = []
    for route in all_routes(app.router.routes):
        path = getattr(route, "path", "")
        methods = getattr(getattr(route, "route", route), "methods", None) or ()
        if not isinstance(path, str) or not (path == prefix or path.startswith(prefix + "/")):
            continue
        if any(part in path for part in _NOT_PROFILED):
            continue
        need = requirement_of(route)
        rank = parts.tiers.require(need.tier).rank if need.tier else 0
        concrete = _PARAM.sub("1", path)
        for method in sorted(methods):
            if method != "HEAD":
                found.append((method, concrete, rank, need.feature))
    return found
