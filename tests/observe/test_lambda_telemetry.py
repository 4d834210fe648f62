"""What the deployed handlers write to CloudWatch Logs: EMF metric lines for denials, degraded
decisions and webhook outcomes, and JSON log lines that carry the request id and no key.

Each test builds the handler as api/index.py and api/webhooks.py do (the app, then
``lambda_handler``) over in-process stores or a Redis that is down, feeds it API Gateway HTTP
API events and reads back stdout, which is what Lambda ships to CloudWatch Logs.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import stripe
from fastapi import FastAPI, HTTPException
from pydantic import SecretStr

from tiergate.billing.webhook import WebhookProcessor
from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.keys import parse_key
from tiergate.registry import Account
from tiergate.web import install
from tiergate.web.example import create_app
from tiergate.web.lambda_handler import lambda_handler
from tiergate.web.observability import observe
from tiergate.web.webhooks import create_webhook_app, webhook_router
from tiergate.wiring import build, hot_store

from ..deploy.test_lambda_handler import Context, http_api_event
from ..support.faults import FaultyStore
from .conftest import NOW_MS, emf_document, read_stdout, without_timestamp

SECRET = SecretStr("whsec_observe")
TOKEN = SecretStr("token")
# A deployed handler as Lambda calls it: (event, context) -> response
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def event(
    method: str, path: str, request_id: str, headers: dict[str, str], body: bytes = b""
) -> dict[str, Any]:
    sent = http_api_event(method, path, headers, body)
    sent["requestContext"]["requestId"] = request_id
    return sent


def api(
    settings: Settings, clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> tuple[Handler, dict[str, str]]:
    """The API's Lambda handler, and a key per tier."""
    parts = build(settings, clock=clock)
    handler = lambda_handler(create_app(settings, parts=parts))
    return handler, loop.run_until_complete(parts.demo_keys())


@pytest.mark.parametrize(
    ("tiers", "admitted", "slug"),
    [
        pytest.param(None, 5, "burst-exceeded", id="burst"),  # the packaged free tier: burst 5
        pytest.param(
            json.dumps(
                {
                    "free": {"limit": 3, "price": 0, "burst": 1000},
                    "pro": {"limit": 9, "price": 9, "burst": 1000},
                }
            ),
            3,
            "quota-exhausted",
            id="quota",
        ),
    ],
)
def test_a_429_is_one_emf_line_and_its_logs_carry_the_request_id_and_no_key(
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
    loop: asyncio.AbstractEventLoop,
    tiers: str | None,
    admitted: int,
    slug: str,
) -> None:
    handler, keys = api(Settings(tiers=tiers), clock, loop)
    key = keys["free"]
    capsys.readouterr()
    for n in range(admitted):
        ok = handler(event("GET", "/v1/hello", f"ok-{n}", {"X-API-Key": key}), Context())
        assert ok["statusCode"] == 200, ok
    assert read_stdout(capsys).emf == []  # an admitted request counts nothing

    denied = handler(event("GET", "/v1/hello", "Xb1=denied", {"X-API-Key": key}), Context())
    assert denied["statusCode"] == 429
    assert denied["headers"]["x-request-id"] == "Xb1=denied"
    assert json.loads(denied["body"])["request_id"] == "Xb1=denied"

    out = read_stdout(capsys)
    assert [without_timestamp(doc) for doc in out.emf] == [
        emf_document(
            namespace="tiergate", service="api", dimension="reason", value=slug,
            metric="Denied", request_id="Xb1=denied",
        )
    ]  # fmt: skip
    assert out.logs, "the denial logged nothing"
    assert {line["request_id"] for line in out.logs} == {"Xb1=denied"}
    assert {line["service"] for line in out.logs} == {"api"}
    [access] = out.access()
    parsed = parse_key(key)
    assert parsed is not None
    assert access | {"duration_ms": 0, "timestamp": ""} == {
        "timestamp": "", "level": "INFO", "service": "api", "logger": "tiergate.access",
        "request_id": "Xb1=denied", "message": "GET /v1/hello 429", "method": "GET",
        "path": "/v1/hello", "route": None, "status": 429, "duration_ms": 0,
        "key_id": parsed.key_id, "account": "demo-free", "outcome": slug,
        "function_request_id": "req-1",  # the Lambda context's
    }  # fmt: skip
    assert key not in out.text
    assert key[8:20] not in out.text  # nor any recognisable part of it


def test_a_degraded_admission_is_counted(
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
    loop: asyncio.AbstractEventLoop,
    redis_down: str,
) -> None:
    """A tier that fails open is admitted uncounted while Redis is down: Degraded, fail-open."""
    tiers = json.dumps(
        {
            "free": {"limit": 10, "price": 0, "burst": 10, "on_error": "allow"},
            "pro": {"limit": 90, "price": 9, "burst": 10},
        }
    )
    settings = Settings(
        tiers=tiers, upstash_redis_rest_url=redis_down, upstash_redis_rest_token=TOKEN,
        redis_timeout=2,
    )  # fmt: skip
    handler, keys = api(settings, clock, loop)
    capsys.readouterr()
    response = handler(event("GET", "/v1/hello", "open-1", {"X-API-Key": keys["free"]}), Context())
    assert response["statusCode"] == 200, response
    out = read_stdout(capsys)
    assert [without_timestamp(doc) for doc in out.emf] == [
        emf_document(
            namespace="tiergate", service="api", dimension="reason", value="fail-open",
            metric="Degraded", request_id="open-1",
        )
    ]  # fmt: skip
    assert {line["request_id"] for line in out.logs} == {"open-1"}
    assert any(line["level"] == "WARN" for line in out.logs)  # the gate says why


def signed_event(event_id: str, kind: str, account: str = "acme") -> tuple[bytes, dict[str, str]]:
    now_s = NOW_MS // 1000
    payload = {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": now_s,
        "data": {
            "object": {
                "id": "sub_1",
                "object": "subscription",
                "customer": "cus_1",
                "status": "active",
                "metadata": {"account_id": account},
                "items": {
                    "data": [
                        {
                            "price": {"id": "price_pro"},
                            "current_period_start": now_s,
                            "current_period_end": now_s + 30 * 86_400,
                        }
                    ]
                },
            }
        },
    }
    body = json.dumps(payload).encode()
    signature = stripe.WebhookSignature.generate_signature_header(
        body.decode(), SECRET.get_secret_value(), timestamp=now_s
    )
    return body, {"Stripe-Signature": signature, "Content-Type": "application/json"}


WEBHOOK_TIERS = json.dumps(
    {
        "free": {"limit": 100, "price": 0, "burst": 10},
        "pro": {"limit": 5000, "price": 29, "burst": 10, "stripe_price": "price_pro"},
    }
)


def test_a_webhook_that_fails_on_a_redis_that_is_down_is_a_503_counted_as_failed(
    capsys: pytest.CaptureFixture[str],
    clock: FakeClock,
    loop: asyncio.AbstractEventLoop,
    redis_down: str,
) -> None:
    settings = Settings(
        tiers=WEBHOOK_TIERS, stripe_webhook_secret=SECRET, upstash_redis_rest_url=redis_down,
        upstash_redis_rest_token=TOKEN, redis_timeout=2,
    )  # fmt: skip
    parts = build(settings, clock=clock)
    loop.run_until_complete(parts.registry.put_account(Account("acme", tier="free")))
    handler: Handler = lambda_handler(create_webhook_app(settings, parts=parts))
    capsys.readouterr()

    body, headers = signed_event("evt_up_1", "customer.subscription.updated")
    failed = handler(event("POST", "/webhooks/stripe", "wh-1", headers, body), Context())
    assert failed["statusCode"] == 503, failed
    assert failed["headers"]["x-request-id"] == "wh-1"
    tampered = handler(event("POST", "/webhooks/stripe", "wh-2", headers, body + b" "), Context())
    assert tampered["statusCode"] == 400

    out = read_stdout(capsys)
    assert [without_timestamp(doc) for doc in out.emf] == [
        emf_document(
            namespace="tiergate", service="webhook", dimension="outcome", value=outcome,
            metric="Webhook", request_id=request_id,
        )
        for outcome, request_id in (("failed", "wh-1"), ("invalid-signature", "wh-2"))
    ]  # fmt: skip
    assert [line["request_id"] for line in out.access()] == ["wh-1", "wh-2"]
    [why] = [line for line in out.logs if line["level"] == "WARN" and line["request_id"] == "wh-1"]
    assert "Stripe will retry" in why["message"]
    assert {line["service"] for line in out.logs} == {"webhook"}


def test_each_webhook_outcome_is_counted(
    capsys: pytest.CaptureFixture[str], clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> None:
    settings = Settings(tiers=WEBHOOK_TIERS, stripe_webhook_secret=SECRET)
    parts = build(settings, clock=clock)
    loop.run_until_complete(parts.registry.put_account(Account("acme", tier="free")))
    handler: Handler = lambda_handler(create_webhook_app(settings, parts=parts))
    body, headers = signed_event("evt_up_1", "customer.subscription.updated")
    unknown, unknown_headers = signed_event("evt_x_1", "customer.created")
    deliveries = [(body, headers), (body, headers), (unknown, unknown_headers)]
    capsys.readouterr()
    for n, (sent, sent_headers) in enumerate(deliveries):
        response = handler(
            event("POST", "/webhooks/stripe", f"d-{n}", sent_headers, sent), Context()
        )
        assert response["statusCode"] == 200, response
    unconfigured: Handler = lambda_handler(create_webhook_app(Settings(), parts=parts))
    assert (
        unconfigured(event("POST", "/webhooks/stripe", "d-3", {}, b"{}"), Context())["statusCode"]
        == 503
    )

    counted = [(doc["outcome"], doc["Webhook"]) for doc in read_stdout(capsys).emf]
    assert counted == [("applied", 1), ("duplicate", 1), ("recorded", 1), ("not-configured", 1)]


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    """api/index.py imported fresh under the environment the deploy gives each function, with
    the root logger as Lambda's Python runtime leaves it: a handler of its own, at WARNING."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "api")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "acme-prod")
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    root = logging.getLogger()
    runtime = _Collect()
    saved = root.level
    root.addHandler(runtime)
    root.setLevel(logging.WARNING)
    try:
        yield importlib.reload(importlib.import_module("api.index"))
    finally:
        root.removeHandler(runtime)
        root.setLevel(saved)
        assert runtime.records == [], "a tiergate line reached the runtime's root handler too"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("tiergate"):
            self.records.append(record)


def test_the_deployed_handler_reads_service_namespace_and_level_from_its_environment(
    capsys: pytest.CaptureFixture[str], deployed: Any, loop: asyncio.AbstractEventLoop
) -> None:
    keys = loop.run_until_complete(deployed.app.state.tiergate.demo_keys())
    capsys.readouterr()
    denied = deployed.handler(
        event("GET", "/v1/pro/hello", "pro-1", {"X-API-Key": keys["free"]}), Context()
    )
    assert denied["statusCode"] == 403
    out = read_stdout(capsys)
    assert [without_timestamp(doc) for doc in out.emf] == [
        emf_document(
            namespace="acme-prod", service="api", dimension="reason", value="tier-too-low",
            metric="Denied", request_id="pro-1",
        )
    ]  # fmt: skip
    # INFO reaches stdout, once, although the root logger is at WARNING (Lambda's default).
    [access] = out.access()
    assert access["level"] == "INFO"
    assert access["status"] == 403


class _Crashing:
    async def handle(self, payload: bytes, signature: str | None) -> str:
        raise RuntimeError("a bug in the webhook")


def test_a_webhook_that_crashes_is_a_500_counted_as_failed(
    capsys: pytest.CaptureFixture[str], loop: asyncio.AbstractEventLoop
) -> None:
    """Stripe retries a 500 like a 503: the alarm on failed deliveries must see it too."""
    app = FastAPI()
    app.include_router(webhook_router(cast(WebhookProcessor, _Crashing())))
    observe(app, Settings().observe, service="webhook", prefix=None)
    handler: Handler = lambda_handler(app)
    capsys.readouterr()
    signed = {"stripe-signature": "t=1796162344,v1=" + "0" * 64}  # well-formed: the body is read
    response = handler(event("POST", "/webhooks/stripe", "crash-1", signed, b"{}"), Context())
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["request_id"] == "crash-1"
    out = read_stdout(capsys)
    assert [(doc["outcome"], doc["Webhook"], doc["service"]) for doc in out.emf] == [
        ("failed", 1, "webhook")
    ]
    [error] = [line for line in out.logs if line["level"] == "ERROR"]
    assert "a bug in the webhook" in error["exception"]


def test_a_refund_that_cannot_reach_redis_is_counted_degraded(
    capsys: pytest.CaptureFixture[str], clock: FakeClock, loop: asyncio.AbstractEventLoop
) -> None:
    """A 5xx is refunded; when the refund fails the customer paid for nothing: say so."""
    settings = Settings(tiers=json.dumps({"free": {"limit": 9, "price": 0, "burst": 1000}}))
    store = FaultyStore(hot_store(settings.gate, clock=clock))
    parts = build(settings, clock=clock, store=store)
    app = FastAPI()

    @app.get("/v1/broken")
    async def broken() -> None:
        store.fail(working={"check"})  # Redis goes away while the endpoint runs
        raise HTTPException(status_code=502, detail="upstream down")

    install(app, settings, parts=parts)
    key = loop.run_until_complete(parts.demo_keys())["free"]
    handler: Handler = lambda_handler(app)
    capsys.readouterr()
    response = handler(event("GET", "/v1/broken", "refund-1", {"X-API-Key": key}), Context())
    assert response["statusCode"] == 502
    out = read_stdout(capsys)
    assert [without_timestamp(doc) for doc in out.emf] == [
        emf_document(
            namespace="tiergate", service="api", dimension="reason", value="refund-failed",
            metric="Degraded", request_id="refund-1",
        )
    ]  # fmt: skip
