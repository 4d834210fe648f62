"""The meter outbox backends the contract suites run against, as a table of `pytest.param`
rows (as the `limits` library's ALL_STORAGES): a new backend is one class in
lib/tiergate/meter/ and one row here.

A row's value opens an outbox on the test's clock, with the registry whose accounts it reads
the Stripe customers of (on the same backend: the same table, or the in-process registry the
in-process outbox asks).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tiergate.clock import FakeClock
from tiergate.meter.outbox import MeterKey, MeterOutbox, MeterRecord
from tiergate.meter.outbox_dynamo import DynamoMeterOutbox
from tiergate.meter.outbox_memory import MemoryMeterOutbox
from tiergate.registry import Registry
from tiergate.registry.dynamo import DynamoRegistry, connect
from tiergate.registry.dynamo.table import create_table
from tiergate.registry.memory import MemoryRegistry

__all__ = ["ALL_METER_OUTBOXES", "CONCURRENT_METER_OUTBOXES", "Opened", "opened"]


@dataclass(frozen=True)
class Opened:
    outbox: MeterOutbox
    registry: Registry  # where the accounts are, whose customers the outbox reads


class InterleavedMemoryOutbox(MemoryMeterOutbox):
    """The in-process outbox, pausing after every read: other tasks then write between a read
    and the change decided on it, as they can against DynamoDB, so its conditions are tried."""

    async def meter_record(self, key: MeterKey, period_end_ms: int) -> MeterRecord:
        read = await super().meter_record(key, period_end_ms)
        await asyncio.sleep(0)
        return read

    async def meter_records(self, wanted: Sequence[tuple[MeterKey, int]]) -> list[MeterRecord]:
        read = await super().meter_records(wanted)
        await asyncio.sleep(0)
        return read


@contextmanager
def in_process(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Opened]:
    registry = MemoryRegistry(clock)
    yield Opened(MemoryMeterOutbox(registry), registry)


@contextmanager
def interleaved(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Opened]:
    registry = MemoryRegistry(clock)
    yield Opened(InterleavedMemoryOutbox(registry), registry)


def _on(client: Any, table: str, clock: FakeClock) -> Opened:
    return Opened(DynamoMeterOutbox(client, table), DynamoRegistry(client, table, clock=clock))


@contextmanager
def on_moto(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Opened]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "registry")
        yield _on(client, "registry", clock)


@contextmanager
def on_moto_server(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Opened]:
    client = connect("us-east-1", request.getfixturevalue("moto_server_endpoint"), 5.0)
    table = f"tiergate-{uuid.uuid4().hex[:12]}"  # the server lives for the whole session
    create_table(client, table)
    yield _on(client, table, clock)


@contextmanager
def on_dynamodb_local(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Opened]:
    client = connect("us-east-1", request.getfixturevalue("dynamodb_endpoint"), 5.0)
    yield _on(client, request.getfixturevalue("dynamodb_table"), clock)


Backend = Callable[[pytest.FixtureRequest, FakeClock], AbstractContextManager[Opened]]

ALL_METER_OUTBOXES = [
    pytest.param(in_process, id="memory"),
    pytest.param(on_moto, id="dynamo-moto"),  # moto in-process
    pytest.param(on_moto_server, id="dynamo-moto-server"),  # over HTTP, as the bench counts
    # Amazon's own, over HTTP: conditions and ALL_OLD as AWS answers
    pytest.param(on_dynamodb_local, id="dynamodb-local", marks=pytest.mark.needs("java")),
]
# moto's backend is not safe under concurrent threads (tests/contract/registries.py), so
# concurrency is held to the others.
CONCURRENT_METER_OUTBOXES = [
    *(row for row in ALL_METER_OUTBOXES if row.id in {"memory", "dynamodb-local"}),
    pytest.param(interleaved, id="memory-interleaved"),
]


@contextmanager
def opened(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Opened]:
    """The outbox of the row the requesting fixture was parametrized with."""
    request.getfixturevalue("aws_credentials")  # boto3 must never reach for real ones
    backend: Backend = request.param
    with backend(request, clock) as outbox:
        yield outbox
