"""The registry's DynamoDB table: its definition, and `tiergate table create`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ...errors import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["TTL_ATTRIBUTE", "create_table"]

TTL_ATTRIBUTE = "ttl"  # processed Stripe events expire through it


def create_table(client: DynamoDBClient, name: str) -> bool:
    """Create the table (on-demand, TTL on) and wait until it is active.

    Returns False when it already existed; TTL is switched on either way, so rerunning the
    command repairs a table made by hand.
    """
    try:
        try:
            client.create_table(
                TableName=name,
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
            created = True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
            created = False
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            )
    except (ClientError, BotoCoreError) as exc:
        raise StoreUnavailable(f"cannot create DynamoDB table {name!r}: {exc}") from exc
    return created
