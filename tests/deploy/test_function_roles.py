"""Each deployed function's IAM role allows exactly the DynamoDB actions the function makes.

The actions are not listed by hand: each function's app runs a customer's billing life against
DynamoDB Local (the hot store on the local Upstash, Stripe's stand-in on a loopback port), and
every call its boto3 client makes is turned into the IAM actions AWS checks for it. Those must
equal what `serverless.yml` grants the function's role: a call the role lacks would be denied in
production, and an action no call needs should not be granted.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.registry.dynamo import DynamoRegistry
from tiergate.web.example import create_app
from tiergate.web.webhooks import create_webhook_app
from tiergate.wiring import build, dynamodb_client
from tiergate_tools.localredis.background import UpstashEndpoint

from ..billing.conftest import NOW_MS, SECRET, billing_settings
from ..support.fakestripe import FakeStripe, running_fake_stripe

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROOT = Path(__file__).resolve().parents[2]
HOUR_MS = 3_600_000

# AWS authorizes each item of a transaction as its own action
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
_TRANSACT_ITEM_ACTIONS = {
    "Get": "dynamodb:GetItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def iam_actions(operation: str, params: dict[str, Any]) -> set[str]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return {_TRANSACT_ITEM_ACTIONS[kind] for item in params["TransactItems"] for kind in item}
    return {f"dynamodb:{operation}"}


def recording(connect: Callable[[], DynamoDBClient], actions: set[str]) -> DynamoDBClient:
    """A client from `connect` that adds the IAM actions of every call it makes to `actions`."""
    client = connect()

    def before_call(params: dict[str, Any], model: Any, **_: Any) -> None:
        actions.update(iam_actions(model.name, params))

    client.meta.events.register("before-parameter-build.dynamodb", before_call)
    return client


def granted(role: str) -> set[str]:
    """The DynamoDB actions `serverless.yml` grants `role`, all of them on the table."""
    config = yaml.safe_load((ROOT / "serverless.yml").read_text())
    properties = config["resources"]["Resources"][role]["Properties"]
    actions: set[str] = set()
    for policy in properties["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            dynamo = {a for a in statement["Action"] if a.startswith("dynamodb:")}
            if dynamo:
                assert statement["Resource"] == {"Fn::GetAtt": ["RegistryTable", "Arn"]}
                actions |= dynamo
    return actions


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW_MS)


@pytest.fixture
def fake(clock: FakeClock) -> FakeStripe:
    return FakeStripe(clock=clock, webhook_secret=SECRET)


@pytest.fixture
def settings(
    fake: FakeStripe, upstash: UpstashEndpoint, dynamodb_endpoint: str, dynamodb_table: str
) -> Iterator[Settings]:
    with running_fake_stripe(fake) as url:
        yield billing_settings(
            url,
            upstash_redis_rest_url=upstash.url,
            upstash_redis_rest_token=upstash.token,
            redis_namespace=f"iam{uuid.uuid4().hex[:8]}",
            table=dynamodb_table,
            aws_endpoint_url_dynamodb=dynamodb_endpoint,
            aws_region="us-east-1",
        )


@asynccontextmanager
async def function(
    make_app: Callable[..., FastAPI], settings: Settings, clock: FakeClock, actions: set[str]
) -> AsyncIterator[httpx.AsyncClient]:
    """One deployed function: its own parts, whose registry records what it calls."""
    gate = settings.gate
    assert gate.table is not None
    registry = DynamoRegistry(
        lambda: recording(lambda: dynamodb_client(gate), actions), gate.table, clock=clock
    )
    parts = build(settings, clock=clock, registry=registry)
    transport = httpx.ASGITransport(app=make_app(settings, parts=parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client
    await parts.aclose()


async def operator_creates_a_key(settings: Settings, clock: FakeClock) -> str:
    """`tiergate keys create`, with the operator's own credentials (no function role)."""
    parts = build(settings, clock=clock)
    try:
        return (await parts.admin().create_key("acme", None)).key
    finally:
        await parts.aclose()


async def test_each_role_grants_exactly_the_actions_its_function_makes(
    settings: Settings, fake: FakeStripe, clock: FakeClock
) -> None:
    api_actions: set[str] = set()
    webhook_actions: set[str] = set()
    key = await operator_creates_a_key(settings, clock)
    async with (
        function(create_app, settings, clock, api_actions) as api,
        function(create_webhook_app, settings, clock, webhook_actions) as webhook,
    ):
        api.headers["X-API-Key"] = key
        assert (await api.get("/v1/hello")).status_code == 200  # a hot-store miss
        unknown = await api.get("/v1/hello", headers={"X-API-Key": key[:-4] + "zzzz"})
        assert unknown.status_code == 401
        assert (await api.get("/v1/usage")).status_code == 200
        checkout = await api.post("/v1/billing/checkout", json={"tier": "pro"})
        assert checkout.status_code == 200, checkout.text

        (session_id,) = fake.sessions
        clock.advance(HOUR_MS)
        subscription = fake.complete_checkout(session_id)
        replay = list(fake.outbox)
        assert [r.json()["outcome"] for r in await fake.deliver(webhook)] == ["applied"] * 2
        fake.outbox = replay  # Stripe delivers again: nothing changes twice
        assert [r.json()["outcome"] for r in await fake.deliver(webhook)] == ["duplicate"] * 2
        clock.advance(HOUR_MS)
        fake.fail_payment(subscription["id"])
        fake.cancel(subscription["id"])
        assert all(r.status_code == 200 for r in await fake.deliver(webhook))

        assert (await api.post("/v1/billing/portal")).status_code == 200
        assert (await api.get("/v1/pro/hello")).status_code == 403  # back on free

    assert api_actions == granted("ApiRole")
    assert webhook_actions == granted("WebhookRole")
