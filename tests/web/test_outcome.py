"""The gate leaves its outcome in scope["state"]["tiergate.outcome"], for a middleware around
it (metrics) to read once the response has gone: denials by code, degraded admissions."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from tiergate.outcomes import Admitted, Denied

from .conftest import Harness, MakeHarness, tiers_json


class Outcomes:
    """An ASGI middleware outside the app, as an observability layer would sit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[Any] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.seen.append(scope.get("state", {}).get("tiergate.outcome"))


async def _recorded(h: Harness) -> Outcomes:
    outcomes = Outcomes(h.app)
    transport = httpx.ASGITransport(app=outcomes)
    h.client = httpx.AsyncClient(transport=transport, base_url="http://test")
    return outcomes


async def test_admissions_and_denials_are_left_for_metrics(h: Harness) -> None:
    outcomes = await _recorded(h)
    key = await h.add_account("free")
    await h.call("/v1/hello", key)
    await h.call("/v1/pro/hello", key)
    await h.call("/v1/hello", "tg_test_not-a-key")
    await h.call("/healthz")
    admitted, tier, invalid, ungated = outcomes.seen
    assert isinstance(admitted, Admitted)
    assert not admitted.degraded
    assert isinstance(tier, Denied)
    assert tier.slug == "tier-too-low"
    assert isinstance(invalid, Denied)
    assert invalid.slug == "invalid-key"
    assert ungated is None
    await h.client.aclose()


async def test_a_fail_open_admission_says_why(make_harness: MakeHarness) -> None:
    tiers = tiers_json(
        free={"limit": 100, "price": 0, "burst": 5, "on_error": "allow"},
        pro={"limit": 100, "price": 9, "burst": 5},
    )
    h = await make_harness(tiers=tiers)
    outcomes = await _recorded(h)
    key = await h.add_account("free")
    await h.call("/v1/hello", key)
    h.store.fail()
    assert (await h.call("/v1/hello", key)).status_code == 200
    degraded = outcomes.seen[-1]
    assert isinstance(degraded, Admitted)
    assert degraded.degraded == "fail-open"
    await h.client.aclose()
