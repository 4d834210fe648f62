"""The alert contacts in the registry's DynamoDB table, one item per account:

    ALERTS#<account>   ae email, au URL, as the URL's signing secret (whsec_...),
                       v version (each change is one UpdateItem guarded by the one read)

An item with no ae/au is an account whose contacts were cleared (kept, so that the legacy
fallback below never brings old contacts back).

**Before this item existed** the contacts were `ae`/`au`/`as` on the account's own item
(`ACCT#<account>`) and copied into every key item's `acct` map. For a table written then:

- an account with no `ALERTS#` item is read from its `ACCT#` item's legacy attributes (one
  more BatchGetItem per run, for the accounts that have no item), and a change starts from
  them, so an upgrade delivers and edits as before without a step;
- but the registry no longer writes them, so the next account write (a webhook, an edit)
  drops them: `tiergate accounts migrate-alerts` (`migrate_legacy`) copies every account's
  legacy contacts into its `ALERTS#` item and then removes them from the account and key
  items, secret included. Run it once, with the new version, before or right after deploying
  it; it is idempotent (a contacts item that exists is never overwritten).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import StoreUnavailable
from ..registry.dynamo.client import TableCalls, call_dynamodb
from .contacts_store import NO_CONTACTS, AlertContacts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["DynamoContacts", "Migrated", "contacts_key"]

Item = dict[str, Any]

_NEW = "attribute_not_exists(pk)"
_SAME_VERSION = "v = :v"
_EXISTS = "attribute_exists(pk)"
_NAMES = {"#as": "as"}  # AS is a reserved word
# Each AlertContacts field and its attribute: the first three keep the names they had on the
# account item (so the legacy fallback reads them alike); a field added later is stored under
# its own name, so a new channel's address needs nothing here.
_SHORT = {"email": "ae", "url": "au", "secret": "as"}
_FIELDS = tuple((f.name, _SHORT.get(f.name, f.name)) for f in dataclasses.fields(AlertContacts))
_LEGACY = "attribute_exists(ae) OR attribute_exists(au) OR attribute_exists(#as)"
_LEGACY_COPY = (
    "attribute_exists(acct.ae) OR attribute_exists(acct.au) OR attribute_exists(acct.#as)"
)
_ATTEMPTS = 5


def contacts_key(account_id: str) -> Item:
    return {"pk": {"S": f"ALERTS#{account_id}"}}


def _account_key(account_id: str) -> Item:  # the registry's account item (legacy fields)
    return {"pk": {"S": f"ACCT#{account_id}"}}


@dataclass(frozen=True, slots=True)
class Migrated:
    copied: int  # accounts whose legacy contacts were copied into their own item
    kept: int  # accounts that already had their own item (left as it was)
    cleaned: int  # account and key items the legacy attributes were removed from


class DynamoContacts:
    def __init__(self, client: DynamoDBClient | Callable[[], DynamoDBClient], table: str) -> None:
        """`client` is a client, or a function that makes one when it is first needed."""
        self._table = TableCalls(client, table)

    async def get_many(self, account_ids: Collection[str]) -> dict[str, AlertContacts]:
        ids = sorted(set(account_ids))
        found = {
            item["pk"]["S"].removeprefix("ALERTS#"): _contacts(item)
            for item in await self._table.get_many([contacts_key(a) for a in ids])
        }
        missing = [a for a in ids if a not in found]
        if missing:  # written before the contacts had their own item: the account's
            for item in await self._table.get_many([_account_key(a) for a in missing]):
                found[item["pk"]["S"].removeprefix("ACCT#")] = _contacts(item, legacy=True)
        return {a: found.get(a, NO_CONTACTS) for a in account_ids}

    async def update(
        self, account_id: str, change: Callable[[AlertContacts], AlertContacts]
    ) -> AlertContacts:
        item = await self._table.get(contacts_key(account_id))
        for _ in range(_ATTEMPTS):
            if item is None:
                legacy = await self._table.get(_account_key(account_id))
                old = NO_CONTACTS if legacy is None else _contacts(legacy, legacy=True)
                current, version = old, 0
            else:
                current, version = _contacts(item), int(item["v"]["N"])
            contacts = change(current)
            ok, item = await self._table.update_if(_write(account_id, contacts, version))
            if ok:
                return contacts
            # ALL_OLD: the item as the other writer left it, so no second read is needed
        raise StoreUnavailable(f"the alert contacts of {account_id!r} kept changing; try again")

    async def migrate_legacy(self) -> Migrated:
        """Move every account's contacts off the account and key items (see the module's
        docstring). Raises StoreUnavailable; what was done before stays done, and a rerun
        finishes the rest."""
        copied = kept = cleaned = 0
        for item in await self._scan(f"begins_with(pk, :acct) AND ({_LEGACY})", ":acct", "ACCT#"):
            account_id = item["pk"]["S"].removeprefix("ACCT#")
            old = _contacts(item, legacy=True)
            ok, _ = await self._table.update_if(_write(account_id, old, 0))
            copied, kept = copied + ok, kept + (not ok)
            await self._remove(item, "REMOVE ae, au, #as")
            cleaned += 1
        for item in await self._scan(f"begins_with(pk, :key) AND ({_LEGACY_COPY})", ":key", "KEY#"):
            await self._remove(item, "REMOVE acct.ae, acct.au, acct.#as")
            cleaned += 1
        return Migrated(copied, kept, cleaned)

    async def _remove(self, item: Item, update: str) -> None:
        await self._table.update_if(
            {
                "Key": {"pk": item["pk"]},
                "UpdateExpression": update,
                "ConditionExpression": _EXISTS,
                "ExpressionAttributeNames": _NAMES,
            }
        )

    async def _scan(self, condition: str, name: str, prefix: str) -> list[Item]:
        found: list[Item] = []
        request: dict[str, Any] = {
            "TableName": self._table.table,
            "FilterExpression": condition,
            "ExpressionAttributeNames": _NAMES,
            "ExpressionAttributeValues": {name: {"S": prefix}},
            "ConsistentRead": True,
        }
        while True:
            page = await call_dynamodb(
                lambda: self._table.client.scan(**request), self._table.table
            )
            found.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _contacts(item: Item, *, legacy: bool = False) -> AlertContacts:
    """The contacts on a contacts item, or (`legacy`) the old ones on an account item."""
    fields = [(f, n) for f, n in _FIELDS if not legacy or f in _SHORT]
    return AlertContacts(**{field: item[name]["S"] for field, name in fields if name in item})


def _write(account_id: str, contacts: AlertContacts, version: int) -> dict[str, Any]:
    """One UpdateItem that leaves the item holding `contacts` at version + 1, if it is still
    at `version` (0: there is no item yet)."""
    sets, removes = ["v = :next"], []
    values: Item = {":next": {"N": str(version + 1)}}
    for field, _ in _FIELDS:  # names as placeholders: any may be a reserved word
        value: str = getattr(contacts, field)
        if value:
            sets.append(f"#{field} = :{field}")
            values[f":{field}"] = {"S": value}
        else:
            removes.append(f"#{field}")
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    if version:
        values[":v"] = {"N": str(version)}
    return {
        "Key": contacts_key(account_id),
        "UpdateExpression": update,
        "ConditionExpression": _SAME_VERSION if version else _NEW,
        "ExpressionAttributeNames": {f"#{field}": name for field, name in _FIELDS},
        "ExpressionAttributeValues": values,
    }
