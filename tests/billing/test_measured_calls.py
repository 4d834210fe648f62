"""A gated request's Stripe calls and DynamoDB units, as its cost document counts them:
Checkout against the Stripe stand-in, on the in-process registry and on DynamoDB Local (whose
ConsumedCapacity is DynamoDB's own arithmetic)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Billing


def costs(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = capsys.readouterr().out.splitlines()
    found = [json.loads(line) for line in lines if line.startswith('{"_aws"')]
    return [doc for doc in found if "route" in doc and "api" not in doc]


def only(document: dict[str, Any], metric: str) -> float:
    [value] = document[metric]  # a document per request: one value each
    return float(value)


async def test_checkout_counts_its_stripe_call_and_the_keys_first_use_its_reads(
    billing: Billing, capsys: pytest.CaptureFixture[str]
) -> None:
    billing.app.state.tiergate_costs._flush_s = 0  # a document per request
    key = await billing.account("acme", tier="free")
    capsys.readouterr()
    response = await billing.post("/v1/billing/checkout", key, {"tier": "pro"})
    assert response.status_code == 200, response.text
    [checkout] = costs(capsys)
    assert (checkout["route"], checkout["tier"]) == ("/v1/billing/checkout", "free")
    assert only(checkout, "StripeCalls") == 1
    on_dynamodb = billing.settings.gate.table is not None
    if on_dynamodb:
        # As DynamoDB Local reports them: the key's miss, one strongly consistent GetItem,
        # and Checkout's read of the account, one more (1 unit each: items under 4 KB).
        assert only(checkout, "DynamoDBReads") == 2
        assert only(checkout, "DynamoDBWrites") == 0
    else:
        assert only(checkout, "DynamoDBReads") == only(checkout, "DynamoDBWrites") == 0

    assert (await billing.get("/v1/usage", key)).status_code == 200
    [usage] = costs(capsys)
    assert only(usage, "RedisCommands") == 1  # the steady state: the key is hot now
    assert (
        only(usage, "DynamoDBReads")
        == only(usage, "DynamoDBWrites")
        == only(usage, "StripeCalls")
        == 0
    )
