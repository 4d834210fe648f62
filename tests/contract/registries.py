"""The registry backends the contract suites run against, as tables of `pytest.param` rows
(as the `limits` library's ALL_STORAGES): a new backend is one class in lib/ and one row here.

A row's value opens a registry on the test's clock; `request` gives it the servers it needs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import boto3
import pytest
from moto import mock_aws

from tiergate.clock import FakeClock
from tiergate.registry import Registry
from tiergate.registry.changes import Snapshot
from tiergate.registry.dynamo import DynamoRegistry, connect
from tiergate.registry.dynamo.table import create_table
from tiergate.registry.memory import MemoryRegistry

__all__ = ["ALL_REGISTRIES", "CONCURRENT_REGISTRIES", "DYNAMO_REGISTRIES", "opened"]

Backend = Callable[[pytest.FixtureRequest, FakeClock], AbstractContextManager[Registry]]


@contextmanager
def in_process(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Registry]:
    yield MemoryRegistry(clock)


class InterleavedMemoryRegistry(MemoryRegistry):
    """The in-process registry, pausing after every read: other tasks then write between a
    read and its commit, as they can against DynamoDB, so its commit conditions are tried."""

    async def _snapshot(
        self, account_id: str, *, digest: str | None = None, event_id: str | None = None
    ) -> Snapshot:
        read = await super()._snapshot(account_id, digest=digest, event_id=event_id)
        await asyncio.sleep(0)
        return read


@contextmanager
def interleaved(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Registry]:
    yield InterleavedMemoryRegistry(clock)


@contextmanager
def on_moto(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[DynamoRegistry]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "registry")
        yield DynamoRegistry(client, "registry", clock=clock)


@contextmanager
def on_moto_server(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[DynamoRegistry]:
    client = connect("us-east-1", request.getfixturevalue("moto_server_endpoint"), 5.0)
    table = f"tiergate-{uuid.uuid4().hex[:12]}"  # the server lives for the whole session
    create_table(client, table)
    yield DynamoRegistry(client, table, clock=clock)


@contextmanager
def on_dynamodb_local(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[DynamoRegistry]:
    client = connect("us-east-1", request.getfixturevalue("dynamodb_endpoint"), 5.0)
    yield DynamoRegistry(client, request.getfixturevalue("dynamodb_table"), clock=clock)


DYNAMO_REGISTRIES = [
    pytest.param(on_moto, id="dynamo-moto"),  # moto in-process
    pytest.param(on_moto_server, id="dynamo-moto-server"),  # over HTTP, as the bench counts
    # Amazon's own, over HTTP
    pytest.param(on_dynamodb_local, id="dynamodb-local", marks=pytest.mark.needs("java")),
]
ALL_REGISTRIES = [pytest.param(in_process, id="memory"), *DYNAMO_REGISTRIES]
# moto's backend (in-process, and behind its server) is not safe under concurrent threads
# (writes were lost in a transaction race here), so concurrency is held to the others.
CONCURRENT_REGISTRIES = [
    *(row for row in ALL_REGISTRIES if row.id in {"memory", "dynamodb-local"}),
    pytest.param(interleaved, id="memory-interleaved"),
]


@contextmanager
def opened(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Registry]:
    """The registry of the row the requesting fixture was parametrized with."""
    request.getfixturevalue("aws_credentials")  # boto3 must never reach for real ones
    backend: Backend = request.param
    with backend(request, clock) as registry:
        yield registry
