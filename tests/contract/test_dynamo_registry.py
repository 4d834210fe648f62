"""What only the DynamoDB registry must show, on every DynamoDB it runs against (a table of
rows, as in test_registry): its call counts, its failures, its table."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import NoCredentialsError, ReadTimeoutError

from tiergate.clock import FakeClock
from tiergate.errors import StoreUnavailable
from tiergate.registry import Account, EventRecord, KeyRecord, SubscriptionUpdate
from tiergate.registry.dynamo import DynamoRegistry, connect
from tiergate.registry.dynamo.table import create_table
from tiergate_tools.localredis.binary import free_port

from .registries import DYNAMO_REGISTRIES, opened

UPDATE = SubscriptionUpdate("acct", tier="pro", status="active", subscription_id="sub_1")


class Calls(Counter[str]):
    """DynamoDB API calls a client made, by operation name."""

    def __call__(self, event_name: str, **_: Any) -> None:
        self[event_name.rsplit(".", 1)[-1]] += 1


@pytest.fixture(params=DYNAMO_REGISTRIES)
def registry_and_calls(
    request: pytest.FixtureRequest, clock: FakeClock
) -> Iterator[tuple[DynamoRegistry, Calls]]:
    with opened(request, clock) as registry:
        assert isinstance(registry, DynamoRegistry)
        calls = Calls()
        client(registry).meta.events.register("before-call.dynamodb.*", calls)
        yield registry, calls


def client(registry: DynamoRegistry) -> Any:
    """The registry's boto3 client: the tests reach in to count calls and cut the line."""
    return registry._calls.client


async def test_a_hot_state_miss_is_one_get_item(
    registry_and_calls: tuple[DynamoRegistry, Calls],
) -> None:
    registry, calls = registry_and_calls
    await registry.put_account(Account("acct", tier="pro"))
    await registry.put_key(KeyRecord("d1", "acct", created_at_ms=1))
    calls.clear()
    assert await registry.hot_state("d1") is not None
    assert calls == {"GetItem": 1}


async def test_an_event_is_one_read_and_one_transaction(
    registry_and_calls: tuple[DynamoRegistry, Calls],
) -> None:
    registry, calls = registry_and_calls
    await registry.put_account(Account("acct", tier="free"))
    for digest in ("d1", "d2", "d3"):
        await registry.put_key(KeyRecord(digest, "acct", created_at_ms=1))
    calls.clear()
    applied = await registry.apply_event(EventRecord("e1", "t", 5, 9), UPDATE, default_tier="free")
    assert applied.outcome == "applied"
    assert calls == {"TransactGetItems": 1, "TransactWriteItems": 1}


async def test_an_unreachable_dynamodb_is_unavailable_quickly(aws_credentials: None) -> None:
    client = connect("us-east-1", f"http://127.0.0.1:{free_port()}", 0.5)  # nobody listens
    registry = DynamoRegistry(client, "tiergate")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unreachable: Could not connect"):
        await registry.hot_state("d1")
    assert time.monotonic() - started < 3


async def test_a_silent_dynamodb_is_unavailable_within_its_timeouts(aws_credentials: None) -> None:
    # A peer that takes the connection and never answers: the read timeout, not the
    # connection, must end the wait (the gate has a request waiting on a hot-state miss).
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        registry = DynamoRegistry(connect("us-east-1", f"http://127.0.0.1:{port}", 0.5), "t")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"unreachable: Read timeout"):
            await registry.hot_state("d1")
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 3  # two attempts of 0.5 s and botocore's backoff between them


async def test_missing_credentials_are_not_called_unreachable(aws_credentials: None) -> None:
    client = connect("us-east-1", f"http://127.0.0.1:{free_port()}", 0.5)

    def no_credentials(**_: Any) -> None:  # what botocore raises when signing finds none
        raise NoCredentialsError()

    client.meta.events.register("before-call.dynamodb.GetItem", no_credentials)
    with pytest.raises(StoreUnavailable, match="DynamoDB client: Unable to locate credentials"):
        await DynamoRegistry(client, "tiergate").hot_state("d1")


async def test_a_missing_table_says_how_to_make_it(dynamodb_endpoint: str) -> None:
    registry = DynamoRegistry(connect("us-east-1", dynamodb_endpoint, 5.0), "no-such-table")
    with pytest.raises(StoreUnavailable, match="tiergate table create"):
        await registry.get_account("acct")


def test_creating_the_table_twice_is_fine(dynamodb_endpoint: str, dynamodb_table: str) -> None:
    client = connect("us-east-1", dynamodb_endpoint, 5.0)
    assert create_table(client, dynamodb_table) is False
    ttl = client.describe_time_to_live(TableName=dynamodb_table)["TimeToLiveDescription"]
    assert (ttl.get("AttributeName"), ttl.get("TimeToLiveStatus")) == ("ttl", "ENABLED")


async def test_a_transaction_that_fails_writes_nothing_and_the_retry_applies_once(
    registry_and_calls: tuple[DynamoRegistry, Calls],
) -> None:
    registry, _ = registry_and_calls
    down = {"now": True}

    def drop_transactions(**_: Any) -> None:
        if down["now"]:  # every attempt, botocore's own retry included
            raise ReadTimeoutError(endpoint_url="http://dynamodb")

    client(registry).meta.events.register(
        "before-send.dynamodb.TransactWriteItems", drop_transactions
    )
    record = EventRecord("e1", "customer.subscription.updated", 5, 9)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        await registry.apply_event(record, UPDATE, default_tier="free")
    assert await registry.get_account("acct") is None
    down["now"] = False
    applied = await registry.apply_event(record, UPDATE, default_tier="free")
    assert applied.outcome == "applied"
    again = await registry.apply_event(record, UPDATE, default_tier="free")
    assert again.outcome == "duplicate"
