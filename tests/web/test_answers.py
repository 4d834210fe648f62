"""The one table of answers: every reason the code gives has a row, rows render, and a
configuration error is a 503 that does not tell the caller to retry."""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path

import httpx
import pytest

import tiergate
from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.decision import Code, Verdict
from tiergate.gate import _SLUG
from tiergate.outcomes import denial
from tiergate.web.answers import ANSWERS, gated_slugs
from tiergate.web.problems import render
from tiergate.web.webhooks import create_webhook_app
from tiergate.wiring import build

from .conftest import NOW_MS, Harness, assert_problem

PACKAGE = Path(tiergate.__file__).parent
# Configuration errors: retrying in a second cannot help, so no Retry-After.
CONFIGURATION = {
    "tier-not-configured",
    "billing-not-configured",
    "webhooks-not-configured",
    "unknown-price",
    "scheduled-not-configured",
}


def gate_slugs() -> set[str]:
    """Every slug gate.py can deny with: its code -> slug map and its denial("...") calls."""
    found = set(_SLUG.values())
    tree = ast.parse((PACKAGE / "gate.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "denial":
            first = node.args[0]
            branches = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            found |= {str(b.value) for b in branches if isinstance(b, ast.Constant)}
    return found


def test_every_reason_the_gate_gives_has_a_row_for_any_gated_route() -> None:
    slugs = gate_slugs()
    assert len(slugs) >= 10  # the parse found the calls
    assert slugs <= set(gated_slugs())


FULL = Verdict(
    Code.TIER,
    account_id="acme",
    tier="free",
    status="past_due",
    burst=5,
    limit=1000,
    used=1000,
    period_start_ms=NOW_MS - 1000,
    period_end_ms=NOW_MS + 10_000,
    retry_after_ms=1500,
)


@pytest.mark.parametrize("slug", gated_slugs())
def test_every_gated_row_renders_from_a_verdict_and_the_routes_need(slug: str) -> None:
    class Need:
        tier = "pro"
        feature = "exports"

    denied = denial(slug, verdict=FULL, need=Need(), now_ms=NOW_MS, env="live", expected="test")
    status, headers, body = render(denied)
    assert status == ANSWERS[slug].status
    assert ("Content-Type", "application/problem+json") in headers
    problem = json.loads(body)
    assert problem["type"] == "urn:tiergate:problem:" + slug
    assert problem["detail"]
    assert "{" not in problem["detail"]  # every placeholder was filled
    names = dict(headers)
    assert ("Retry-After" in names) == (ANSWERS[slug].retry_after is not None)


@pytest.mark.parametrize("slug", sorted(ANSWERS))
def test_every_row_is_well_formed(slug: str) -> None:
    answer = ANSWERS[slug]
    assert 400 <= answer.status <= 599
    assert answer.title
    assert answer.description
    list(string.Formatter().parse(answer.detail))  # a template that parses
    if answer.status == 503:
        assert (answer.retry_after is None) == (slug in CONFIGURATION), slug


def test_the_core_does_not_import_the_gate_back() -> None:
    tree = ast.parse((PACKAGE / "outcomes.py").read_text())
    imported = {
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 0
    }
    assert "gate" not in imported
    assert all(not name.startswith("web") for name in imported)


async def test_an_account_on_a_tier_no_longer_configured_is_not_told_to_retry(
    h: Harness,
) -> None:
    key = await h.add_account(tier="gold")  # a tier the default configuration lacks
    response = await h.call("/v1/hello", key)
    assert_problem(response, 503, "tier-not-configured")
    assert "Retry-After" not in response.headers


async def test_billing_without_stripe_is_not_told_to_retry(h: Harness) -> None:
    key = await h.add_account()
    response = await h.client.post(
        "/v1/billing/checkout", json={"tier": "pro"}, headers={"X-API-Key": key}
    )
    assert_problem(response, 503, "billing-not-configured")
    assert "Retry-After" not in response.headers


async def test_webhooks_without_a_secret_are_not_told_to_retry() -> None:
    settings = Settings()
    app = create_webhook_app(settings, parts=build(settings, clock=FakeClock(NOW_MS)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/webhooks/stripe", content=b"{}")
    assert_problem(response, 503, "webhooks-not-configured")
    assert "Retry-After" not in response.headers
