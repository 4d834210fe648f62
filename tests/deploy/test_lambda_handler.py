"""The Lambda handlers (mangum) serving API Gateway HTTP API (payload 2.0) events end to end."""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import os
import time
from types import ModuleType
from typing import Any

import pytest
import stripe

from tiergate.registry import Account
from tiergate.schedule.lambda_handler import ScheduledRunFailed
from tiergate.telemetry import METER_PUSH, METER_SENT

from ..support.jobs import Done, TestJob

SECRET = "whsec_lambda_test"


@pytest.fixture
def modules(
    monkeypatch: pytest.MonkeyPatch, loop: asyncio.AbstractEventLoop
) -> tuple[ModuleType, ModuleType]:
    """api/index.py and api/webhooks.py imported fresh, as a cold Lambda would."""
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    index = importlib.reload(importlib.import_module("api.index"))
    webhooks = importlib.reload(importlib.import_module("api.webhooks"))
    return index, webhooks


def http_api_event(
    method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "pytest",
            },
            "requestId": "req-1",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "28/Nov/2026:12:00:00 +0000",
            "timeEpoch": now * 1000,
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


class Context:
    function_name = "tiergate-dev-apiFree"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def test_the_api_handler_serves_a_gated_request(
    modules: tuple[ModuleType, ModuleType], loop: asyncio.AbstractEventLoop
) -> None:
    index, _ = modules
    keys = loop.run_until_complete(index.app.state.tiergate.demo_keys())
    response = index.handler(
        http_api_event("GET", "/v1/hello", {"X-API-Key": keys["free"]}), Context()
    )
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {"message": "hello", "tier": "free"}
    assert response["headers"]["ratelimit-policy"].startswith('"burst";q=5;w=1')

    denied = index.handler(
        http_api_event("GET", "/v1/pro/hello", {"X-API-Key": keys["free"]}), Context()
    )
    assert denied["statusCode"] == 403
    assert denied["headers"]["content-type"] == "application/problem+json"


def test_the_webhook_handler_applies_a_signed_event(
    modules: tuple[ModuleType, ModuleType], loop: asyncio.AbstractEventLoop
) -> None:
    _, webhooks = modules
    parts = webhooks.app.state.tiergate
    loop.run_until_complete(parts.registry.put_account(Account("acme", tier="free")))
    now = int(time.time())
    event = {
        "id": "evt_lambda_1",
        "object": "event",
        "type": "customer.subscription.paused",
        "created": now,
        "data": {
            "object": {
                "id": "sub_1",
                "object": "subscription",
                "customer": "cus_1",
                "status": "paused",
                "metadata": {"account_id": "acme"},
                "items": {"data": [{"price": {"id": "price_x"}}]},
            }
        },
    }
    body = json.dumps(event).encode()
    signature = stripe.WebhookSignature.generate_signature_header(
        body.decode(), SECRET, timestamp=now
    )
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    # The default tiers sell no Stripe price: the event is refused (503) until one does.
    refused = webhooks.handler(http_api_event("POST", "/webhooks/stripe", headers, body), Context())
    assert refused["statusCode"] == 503
    assert "price_x" in json.loads(refused["body"])["detail"]

    event["id"], event["type"] = "evt_lambda_2", "customer.subscription.deleted"
    body = json.dumps(event).encode()
    headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
        body.decode(), SECRET, timestamp=now
    )
    response = webhooks.handler(
        http_api_event("POST", "/webhooks/stripe", headers, body), Context()
    )
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {"received": True, "outcome": "recorded"}

    tampered = webhooks.handler(
        http_api_event("POST", "/webhooks/stripe", headers, body + b" "), Context()
    )
    assert tampered["statusCode"] == 400


# An EventBridge scheduled event, as the rule delivers it.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-28T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/tiergate-test-scheduled"],
    "detail": {},
}


class ScheduledContext(Context):
    function_name = "tiergate-test-scheduled"
    aws_request_id = "run-7"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def scheduled_module(monkeypatch: pytest.MonkeyPatch, *jobs: TestJob) -> ModuleType:
    """api/scheduled.py imported fresh, as a cold Lambda would, with these jobs scheduled."""
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "scheduled")
    monkeypatch.setattr(
        "tiergate.schedule.runner.scheduled_jobs",
        lambda parts, settings: [j.scheduled() for j in jobs],
    )
    return importlib.reload(importlib.import_module("api.scheduled"))


def test_the_scheduled_handler_runs_the_jobs_once_per_event_on_one_container(
    monkeypatch: pytest.MonkeyPatch,
    loop: asyncio.AbstractEventLoop,
    capsys: pytest.CaptureFixture[str],
) -> None:
    meter = TestJob(
        "meter-push", Done(True, ("sent 3 units",)), counts=((METER_PUSH, "outcome", METER_SENT),)
    )
    module = scheduled_module(monkeypatch, meter)
    capsys.readouterr()
    first = module.handler(SCHEDULED_EVENT, ScheduledContext())
    second = module.handler(SCHEDULED_EVENT, ScheduledContext())
    assert (
        first
        == second
        == {
            "ok": True,
            "jobs": [{"name": "meter-push", "ok": True, "lines": ["sent 3 units"]}],
        }
    )
    assert meter.runs == 2
    # The jobs' metrics went out as EMF under the scheduled service and the invocation's id.
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(d["service"], d["outcome"], d["MeterPush"], d["request_id"]) for d in emf] == [
        ("scheduled", METER_SENT, 1, "run-7")
    ] * 2


def test_a_failed_job_raises_so_lambda_retries_and_dead_letters_it(
    monkeypatch: pytest.MonkeyPatch, loop: asyncio.AbstractEventLoop
) -> None:
    meter = TestJob("meter-push", Done(False, ("acme: Stripe unavailable",)))
    alerts = TestJob("alerts", raises=ConnectionError("SES unreachable"))
    module = scheduled_module(monkeypatch, meter, alerts)
    with pytest.raises(ScheduledRunFailed) as failed:
        module.handler(SCHEDULED_EVENT, ScheduledContext())
    assert str(failed.value) == (
        "scheduled run failed: meter-push: acme: Stripe unavailable"
        " | alerts: raised ConnectionError: SES unreachable"
    )
    assert (meter.runs, alerts.runs) == (1, 1)
