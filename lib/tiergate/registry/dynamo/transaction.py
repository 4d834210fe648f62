"""A registry `Change` as one DynamoDB TransactWriteItems, each part guarded by a condition.

The conditions are named (as Powertools names its own) so a cancellation reason can be read
against them. What was decided on a read holds at commit because every account write is
guarded by the version read (the live-key count and the event's order were decided on that
version); an event's write is guarded by the account's watermark as well.
"""

from __future__ import annotations

from typing import Any

from ..changes import AccountWrite, Change, KeyPut
from .items import account_fields, account_item, customer_item, event_item, key_item, key_key

__all__ = [
    "KEY_EXISTS",
    "NEW_ITEM",
    "NOT_NEWER",
    "SAME_OWNER",
    "SAME_VERSION",
    "transact_items",
]

NEW_ITEM = "attribute_not_exists(pk)"
SAME_VERSION = "v = :v"
KEY_EXISTS = "attribute_exists(pk)"
SAME_OWNER = "a = :a"
NOT_NEWER = "(attribute_not_exists(wm) OR wm <= :wm)"  # the account's events are not newer

TransactItem = dict[str, Any]


def transact_items(change: Change, table: str) -> list[TransactItem]:
    """The transaction's items, the event's put (when there is one) first, so that a
    cancellation at index 0 means the event was recorded before."""
    items: list[TransactItem] = []
    if change.event is not None:
        event = event_item(change.event)
        items.append({"Put": {"TableName": table, "Item": event, "ConditionExpression": NEW_ITEM}})
    written_key = change.key.record.digest if change.key else None
    for write in change.accounts:
        items.append(_put_account(write, table))
        if write.fields_changed:
            items.extend(_refresh_copies(write, table, skip=written_key))
    if change.key is not None:
        items.append(_put_key(change.key, table))
    return items


def _put_account(write: AccountWrite, table: str) -> TransactItem:
    item = account_item(
        write.account, version=write.version, live_keys=write.live_keys, all_keys=write.all_keys
    )
    put: dict[str, Any] = {
        "TableName": table,
        "Item": item,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if write.read_version is None:
        condition, values = NEW_ITEM, {}
    else:
        condition, values = SAME_VERSION, {":v": {"N": str(write.read_version)}}
    if write.watermark_at_most is not None:
        condition = f"{condition} AND {NOT_NEWER}"
        values[":wm"] = {"N": str(write.watermark_at_most)}
    put["ConditionExpression"] = condition
    if values:
        put["ExpressionAttributeValues"] = values
    return {"Put": put}


def _refresh_copies(write: AccountWrite, table: str, *, skip: str | None) -> list[TransactItem]:
    """Every live key's copy of the account follows it, and so does the customer's link."""
    fields = {":acct": {"M": account_fields(write.account)}}
    items: list[TransactItem] = [
        {
            "Update": {
                "TableName": table,
                "Key": key_key(digest),
                "UpdateExpression": "SET acct = :acct",
                "ConditionExpression": KEY_EXISTS,
                "ExpressionAttributeValues": fields,
            }
        }
        for digest in sorted(write.live_keys)
        if digest != skip  # one item may appear once in a transaction; its put has the copy
    ]
    if write.account.customer_id:
        link = customer_item(write.account.customer_id, write.account.account_id)
        items.append({"Put": {"TableName": table, "Item": link}})
    return items


def _put_key(key: KeyPut, table: str) -> TransactItem:
    put: dict[str, Any] = {"TableName": table, "Item": key_item(key.record, key.account)}
    if key.read_owner is None:
        put["ConditionExpression"] = NEW_ITEM
    else:  # the key is replaced only as read, so a move is never half-seen
        put["ConditionExpression"] = SAME_OWNER
        put["ExpressionAttributeValues"] = {":a": {"S": key.read_owner}}
    return {"Put": put}
