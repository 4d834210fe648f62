"""The served OpenAPI document against the served answers: Schemathesis, every check, bounded.

The example app runs under uvicorn on a loopback port with billing configured (the Stripe
stand-in) and tiers for sale, and the run carries a valid key of the top tier, so that the
gated operations answer for real rather than 401 alone. Examples are derandomised (a fixed
seed, no example database) and bounded per operation, so a run is the same every time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from pydantic import SecretStr
from schemathesis import Case

from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.web.example import create_app
from tiergate.wiring import build
from tiergate_tools.localredis.background import serve_in_thread

from ..support.fakestripe import FakeStripe, running_fake_stripe
from .conftest import NOW_MS

MAX_EXAMPLES = 30  # per operation and generation mode
SEED = 9457
TIERS = json.dumps(
    {
        "free": {"limit": 10**9, "price": 0, "burst": 1_000_000},
        "pro": {"limit": 10**9, "price": 29, "burst": 1_000_000, "stripe_price": "price_pro"},
        "enterprise": {
            "limit": 10**9,
            "price": 199,
            "burst": 1_000_000,
            "stripe_price": "price_ent",
        },
    }
)


def _settings(stripe_url: str = "http://127.0.0.1:9") -> Settings:
    return Settings(
        tiers=TIERS,
        stripe_secret_key=SecretStr("sk_test_tiergate"),
        stripe_api_base=stripe_url,
        stripe_webhook_secret=SecretStr("whsec_x"),
    )


# Schemathesis makes one test per operation when the module is collected, so the document is
# loaded then, from an app built as the served one is (a test checks the served one is equal).
DOCUMENT = create_app(_settings()).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.seed = SEED
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")


@dataclass(frozen=True)
class Served:
    url: str
    key: str  # the enterprise demo key: every gated operation admits it


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    clock = FakeClock(NOW_MS)  # frozen: the burst never refills, so it is set to the most
    with running_fake_stripe(FakeStripe(clock=clock, webhook_secret="whsec_x")) as stripe_url:
        settings = _settings(stripe_url)
        parts = build(settings, clock=clock)
        key = asyncio.run(parts.demo_keys())["enterprise"]
        with serve_in_thread(create_app(settings, parts=parts)) as url:
            yield Served(url, key)


def test_the_served_document_is_the_one_tested(served: Served) -> None:
    assert httpx.get(f"{served.url}/openapi.json").json() == DOCUMENT


_cases = itertools.count()


@schema.parametrize()
def test_the_openapi_document_agrees_with_the_answers(case: Case[Any], served: Served) -> None:
    # Generated examples repeat values across cases, and a repeated Idempotency-Key on another
    # request is rightly a 422 (tests/web/test_idempotency.py): each case gets its own key,
    # still schema-valid, so that only what the document can say is checked here.
    if case.headers and case.headers.get("Idempotency-Key"):
        case.headers["Idempotency-Key"] = f"{case.headers['Idempotency-Key'][:200]}-{next(_cases)}"
    # Every check Schemathesis has, as its CLI's --checks all.
    case.call_and_validate(base_url=served.url, headers={"X-API-Key": served.key})
