"""The registry's boto3 client: how it is made, and what its failures mean to tiergate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["Cancelled", "ConditionFailed", "call_dynamodb", "connect"]

_T = TypeVar("_T")


class ConditionFailed(Exception):
    """A conditional write's condition did not hold: an answer, not a failure."""


class Cancelled(Exception):
    """A transaction was cancelled; `reasons` says which item's condition failed, if any."""

    def __init__(self, reasons: list[Any]) -> None:
        super().__init__(reasons)
        self.reasons: list[dict[str, Any]] = reasons


def connect(region: str, endpoint_url: str | None, timeout_s: float) -> DynamoDBClient:
    """A client with short timeouts and one retry: the gate has a request waiting."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=config)


async def call_dynamodb(call: Callable[[], _T], table: str) -> _T:
    """Run a boto3 call in a worker thread (boto3 is synchronous), mapping its errors."""
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        return await asyncio.to_thread(call)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed from exc
        if code == "TransactionCanceledException":
            raise Cancelled(list(exc.response.get("CancellationReasons", []))) from exc
        if code == "ResourceNotFoundException":
            raise StoreUnavailable(
                f"DynamoDB table {table!r} does not exist; `tiergate table create` makes it"
            ) from exc
        raise StoreUnavailable(f"DynamoDB: {code}: {error.get('Message', '')}") from exc
    except (BotoConnectionError, HTTPClientError) as exc:  # refused, timed out, cut
        raise StoreUnavailable(f"DynamoDB unreachable: {exc}") from exc
    except BotoCoreError as exc:  # the client's own trouble: credentials, region
        raise StoreUnavailable(f"DynamoDB client: {exc}") from exc
