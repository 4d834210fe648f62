"""The claim/settle ledger backends the contract suites run against, as a table of
`pytest.param` rows (as the `limits` library's ALL_STORAGES): a new backend is one class in
lib/tiergate/ledger/ and one row here.

A row's value opens a ledger for a feature's rule book: its Python rules (what the in-process
backend runs) and its DynamoDB codec (what the DynamoDB backend sends).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import boto3
import pytest
from moto import mock_aws

from tiergate.ledger import DynamoCodec, Ledger, Rules
from tiergate.ledger.dynamo import DynamoLedger
from tiergate.ledger.memory import MemoryLedger
from tiergate.registry.dynamo import connect
from tiergate.registry.dynamo.client import TableCalls
from tiergate.registry.dynamo.table import create_table

__all__ = ["ALL_LEDGERS", "Opener"]


class Opener(Protocol):
    def __call__(
        self, request: pytest.FixtureRequest, rules: Rules[Any, Any], codec: DynamoCodec[Any, Any]
    ) -> AbstractContextManager[Ledger[Any, Any]]: ...


@contextmanager
def in_process(
    request: pytest.FixtureRequest, rules: Rules[Any, Any], codec: DynamoCodec[Any, Any]
) -> Iterator[Ledger[Any, Any]]:
    yield MemoryLedger(rules)


@contextmanager
def on_moto(
    request: pytest.FixtureRequest, rules: Rules[Any, Any], codec: DynamoCodec[Any, Any]
) -> Iterator[Ledger[Any, Any]]:
    request.getfixturevalue("aws_credentials")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "registry")
        yield DynamoLedger(TableCalls(client, "registry"), codec)


@contextmanager
def on_dynamodb_local(
    request: pytest.FixtureRequest, rules: Rules[Any, Any], codec: DynamoCodec[Any, Any]
) -> Iterator[Ledger[Any, Any]]:
    client = connect("us-east-1", request.getfixturevalue("dynamodb_endpoint"), 5.0)
    table = f"tiergate-{uuid.uuid4().hex[:12]}"
    create_table(client, table)
    yield DynamoLedger(TableCalls(client, table), codec)


ALL_LEDGERS = [
    pytest.param(in_process, id="memory"),
    pytest.param(on_moto, id="dynamo-moto"),
    # Amazon's own: ALL_OLD as AWS answers
    pytest.param(on_dynamodb_local, id="dynamodb-local", marks=pytest.mark.needs("java")),
]
