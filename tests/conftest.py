from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tiergate.localredis.background import UpstashEndpoint, local_upstash
from tiergate.localredis.binary import free_port, spawn_redis_server
from tiergate.registry.dynamo import connect
from tiergate.registry.table import create_table


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
    """moto's DynamoDB server on a free loopback port: the registry speaks real HTTP to it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def dynamodb_table(dynamodb_endpoint: str) -> str:
    """A fresh, empty registry table on the DynamoDB server."""
    name = f"tiergate-{uuid.uuid4().hex[:12]}"
    create_table(connect("us-east-1", dynamodb_endpoint, 5.0), name)
    return name
