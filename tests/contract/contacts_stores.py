"""The alert contacts backends the contract suite runs against, as a table of `pytest.param`
rows (as the `limits` library's ALL_STORAGES): a new backend is one class in
lib/tiergate/alerts/ and one row here. A row's value opens a store (with, on the DynamoDB
rows, the client and table it is on)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tiergate.alerts.contacts_dynamo import DynamoContacts
from tiergate.alerts.contacts_memory import MemoryContacts
from tiergate.alerts.contacts_store import ContactsStore
from tiergate.registry.dynamo import connect
from tiergate.registry.dynamo.table import create_table

__all__ = ["ALL_CONTACT_STORES", "DYNAMO_CONTACT_STORES", "Opened"]


@dataclass
class Opened:
    store: ContactsStore
    client: Any = None  # the DynamoDB rows' boto3 client and table, to write as earlier
    table: str = ""  # versions did and to read the raw items

    def put_item(self, item: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table, Item=item)

    def get_item(self, pk: str) -> dict[str, Any]:
        found: dict[str, Any] = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True
        )["Item"]
        return found


def _on(client: Any, table: str) -> Opened:
    return Opened(DynamoContacts(client, table), client, table)


@contextmanager
def in_process(request: pytest.FixtureRequest) -> Iterator[Opened]:
    yield Opened(MemoryContacts())


@contextmanager
def on_moto(request: pytest.FixtureRequest) -> Iterator[Opened]:
    request.getfixturevalue("aws_credentials")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "registry")
        yield _on(client, "registry")


@contextmanager
def on_dynamodb_local(request: pytest.FixtureRequest) -> Iterator[Opened]:
    client = connect("us-east-1", request.getfixturevalue("dynamodb_endpoint"), 5.0)
    table = f"tiergate-{uuid.uuid4().hex[:12]}"
    create_table(client, table)
    yield _on(client, table)


Backend = Callable[[pytest.FixtureRequest], AbstractContextManager[Opened]]

DYNAMO_CONTACT_STORES = [
    pytest.param(on_moto, id="dynamo-moto"),
    pytest.param(on_dynamodb_local, id="dynamodb-local"),  # Amazon's own: conditions, ALL_OLD
]
ALL_CONTACT_STORES = [pytest.param(in_process, id="memory"), *DYNAMO_CONTACT_STORES]
