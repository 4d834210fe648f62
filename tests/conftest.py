from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from tiergate.registry.dynamo import connect
from tiergate.registry.dynamo.table import create_table
from tiergate.web.costs import write_pending
from tiergate_tools.localredis.background import UpstashEndpoint, local_upstash
from tiergate_tools.localredis.binary import spawn_redis_server

from .support.dynamodb_local import running_dynamodb_local
from .support.moto_server import running_moto_server
from .support.tools import require


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`pytest.mark.needs(tool, ...)`: skipped without the tool, failed under CI (tools.py)."""
    for mark in item.iter_markers("needs"):
        for tool in mark.args:
            require(tool)


@pytest.fixture(autouse=True)
def _measurements_written_in_the_test() -> Iterator[None]:
    """What the apps' cost meters still batch is written as each test ends, into its captured
    output, rather than at exit on the terminal after pytest's summary."""
    yield
    write_pending()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The thread's event loop, as a Lambda process has one: mangum runs each event on it."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(scope="session")
def redis_addr() -> Iterator[tuple[str, int]]:
    """A real redis-server; a missing binary fails the run loudly rather than skipping."""
    with spawn_redis_server() as addr:
        yield addr


@pytest.fixture(scope="session")
def upstash(redis_addr: tuple[str, int]) -> Iterator[UpstashEndpoint]:
    with local_upstash(*redis_addr, token="test-token") as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[None]:
    """Fake credentials, so boto3 never reaches for real ones."""
    fake = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {name: os.environ.get(name) for name in fake}
    os.environ.update(fake)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def dynamodb_endpoint(aws_credentials: None) -> Iterator[str]:
    """Amazon's DynamoDB Local, in memory on a free loopback port: real DynamoDB semantics
    (conditions, transactions, their cancellation reasons) over real HTTP."""
    require("java")
    with running_dynamodb_local() as url:
        yield url


@pytest.fixture(scope="session")
def moto_server_endpoint(aws_credentials: None) -> Iterator[str]:
    """moto's DynamoDB over real HTTP (what the benchmark counts calls against)."""
    with running_moto_server() as url:
        yield url


@pytest.fixture
def dynamodb_table(dynamodb_endpoint: str) -> str:
    """A fresh, empty registry table on the DynamoDB server."""
    name = f"tiergate-{uuid.uuid4().hex[:12]}"
    create_table(connect("us-east-1", dynamodb_endpoint, 5.0), name)
    return name
