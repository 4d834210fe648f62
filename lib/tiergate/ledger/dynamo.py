"""The ledger in the registry's DynamoDB table: one item per record, each change one
conditional UpdateItem (ALL_NEW when it commits, ALL_OLD when its condition failed, so a
lost race needs no re-read), reads consistent, many at once by BatchGetItem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from ..registry.dynamo.client import TableCalls
from . import DynamoCodec

__all__ = ["DynamoLedger"]

R = TypeVar("R")
C = TypeVar("C")


class DynamoLedger(Generic[R, C]):
    def __init__(self, calls: TableCalls, codec: DynamoCodec[R, C]) -> None:
        self._calls = calls
        self._codec = codec

    async def read(self, key: str) -> R | None:
        item = await self._calls.get(_key(key))
        return None if item is None else self._codec.record(item)

    async def read_many(self, keys: Sequence[str]) -> dict[str, R]:
        items = await self._calls.get_many([_key(k) for k in dict.fromkeys(keys)])
        found = ((item["pk"]["S"], self._codec.record(item)) for item in items)
        return {key: record for key, record in found if record is not None}

    async def change(self, key: str, change: C) -> tuple[bool, R | None]:
        done, item = await self._calls.update_if({"Key": _key(key), **self._codec.update(change)})
        return done, None if item is None else self._codec.record(item)


def _key(key: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": key}}
