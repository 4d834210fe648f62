"""`tiergate table create` against DynamoDB Local: made once, then found, errors one line."""

from __future__ import annotations

import os
import uuid

import pytest

from tiergate.cli import main
from tiergate.registry.dynamo import connect
from tiergate_tools.localredis.binary import free_port


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, aws_credentials: None) -> None:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_", "AWS_ENDPOINT_URL")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def test_create_makes_the_table_once_with_ttl_on(
    dynamodb_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
    assert main(["table", "create", "--table", name]) == 0
    assert capsys.readouterr().out == f"table {name} created, TTL on `ttl`\n"
    monkeypatch.setenv("TIERGATE_TABLE", name)  # the default name
    assert main(["table", "create"]) == 0
    assert capsys.readouterr().out == f"table {name} already exists, TTL on `ttl`\n"
    client = connect("us-east-1", dynamodb_endpoint, 5.0)
    table = client.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl.get("AttributeName"), ttl.get("TimeToLiveStatus")) == ("ttl", "ENABLED")


def test_create_needs_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "create"]) == 2
    assert capsys.readouterr().err == (
        "tiergate: error: name the table: --table NAME, or set TIERGATE_TABLE\n"
    )


def test_an_unreachable_dynamodb_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    assert main(["table", "create", "--table", "t"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tiergate: error: cannot create DynamoDB table 't': ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
