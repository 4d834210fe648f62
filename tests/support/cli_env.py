"""The environment the admin commands run in for a test: its own DynamoDB table and Redis
namespace on the test's DynamoDB Local and local Upstash server, nothing inherited."""

from __future__ import annotations

import os
import uuid

import pytest

from tiergate_tools.localredis.background import UpstashEndpoint

__all__ = ["stores_env"]


def stores_env(
    monkeypatch: pytest.MonkeyPatch,
    dynamodb_endpoint: str,
    upstash: UpstashEndpoint,
    name: str,
    **extra: str,
) -> dict[str, str]:
    """Set it (names starting `name`, plus `extra`) and return what was set."""
    for variable in list(os.environ):
        if variable.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(variable)
    values = {
        "TIERGATE_TABLE": f"{name}-{uuid.uuid4().hex[:8]}",
        "TIERGATE_REDIS_NAMESPACE": f"{name}{uuid.uuid4().hex[:8]}",
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "TIERGATE_DYNAMODB_TIMEOUT": "10",  # DynamoDB Local on a busy CI machine, not AWS
        "UPSTASH_REDIS_REST_URL": upstash.url,
        "UPSTASH_REDIS_REST_TOKEN": upstash.token,
        **extra,
    }
    for variable, value in values.items():
        monkeypatch.setenv(variable, value)
    return values
