"""The OpenAPI document says what the app answers: every problem, the headers, the tiers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.web.answers import ANSWERS, gated_slugs
from tiergate.web.example import create_app
from tiergate.wiring import build

from .conftest import NOW_MS

TIERS = json.dumps(
    {
        "free": {"limit": 10, "price": 0, "burst": 5},
        "pro": {"limit": 100, "price": 29, "burst": 5, "stripe_price": "price_pro"},
        "max": {"limit": 1000, "price": 99, "burst": 5, "stripe_price": "price_max"},
    }
)
GATED = [
    ("/v1/hello", "get"),
    ("/v1/pro/hello", "get"),
    ("/v1/usage", "get"),
    ("/v1/billing/checkout", "post"),
    ("/v1/billing/portal", "post"),
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    settings = Settings(tiers=TIERS, stripe_secret_key=SecretStr("sk_test_x"))
    app = create_app(settings, parts=build(settings, clock=FakeClock(NOW_MS)))
    return app.openapi()


def operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][path][method]
    return found


def documented(document: dict[str, Any], path: str, method: str, status: int) -> str:
    """The description of a problem response, after checking it is problem+json alone."""
    response = operation(document, path, method)["responses"][str(status)]
    assert list(response["content"]) == ["application/problem+json"]
    assert response["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    description: str = response["description"]
    return description


def test_the_problem_schema_has_rfc_9457s_members(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "instance"}
    assert problem["additionalProperties"] is True  # extension members
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize(("path", "method"), GATED)
def test_every_gated_operation_documents_every_gate_answer(
    document: dict[str, Any], path: str, method: str
) -> None:
    for slug in gated_slugs():
        assert f"`{slug}`" in documented(document, path, method, ANSWERS[slug].status)
    op = operation(document, path, method)
    assert op["security"] == [{"ApiKeyAuth": []}]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= op["parameters"][0].items()
    assert set(op["responses"]["200"]["headers"]) == {"RateLimit", "RateLimit-Policy"}
    assert "Retry-After" in op["responses"]["429"]["headers"]
    assert "Retry-After" in op["responses"]["503"]["headers"]
    assert "Retry-After" not in op["responses"]["401"].get("headers", {})


@pytest.mark.parametrize(
    ("path", "status", "slug"),
    [
        ("/v1/billing/checkout", 400, "unknown-tier"),
        ("/v1/billing/checkout", 400, "tier-not-for-sale"),
        ("/v1/billing/checkout", 409, "already-subscribed"),
        ("/v1/billing/checkout", 413, "payload-too-large"),
        ("/v1/billing/checkout", 502, "stripe-rejected"),
        ("/v1/billing/checkout", 503, "billing-not-configured"),
        ("/v1/billing/checkout", 503, "stripe-unavailable"),
        ("/v1/billing/portal", 409, "no-billing-account"),
        ("/v1/billing/portal", 502, "stripe-rejected"),
    ],
)
def test_the_billing_answers_are_documented(
    document: dict[str, Any], path: str, status: int, slug: str
) -> None:
    assert f"`{slug}`" in documented(document, path, "post", status)


def test_the_validation_error_is_documented_as_the_problem_it_is(
    document: dict[str, Any],
) -> None:
    assert "errors" in documented(document, "/v1/billing/checkout", "post", 422)


def test_checkout_names_the_tiers_for_sale(document: dict[str, Any]) -> None:
    body = operation(document, "/v1/billing/checkout", "post")["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/CheckoutRequest"
    tier = document["components"]["schemas"]["CheckoutRequest"]["properties"]["tier"]
    assert tier["enum"] == ["pro", "max"]  # free has no Stripe price: it is not for sale
    assert operation(document, "/v1/billing/checkout", "post")["responses"]["200"]["content"][
        "application/json"
    ]["schema"] == {"$ref": "#/components/schemas/BillingUrl"}
