"""Registry records as DynamoDB items, and back: the table's key design in one place.

One table, partition key ``pk`` only; the prefix says what an item is:

    ACCT#<account>   the account: t tier, s status, ps/pe period (ms), sa past-due since,
                     lo/bo quota and burst overrides, xf extra features, cus/sub Stripe ids,
                     wm watermark (newest event's `created`, s), v version (optimistic lock),
                     oc overage cap override, ks live keys {digest: expires_at_ms},
                     ka every key digest ever issued
    KEY#<digest>     a key: a account, c created, l label, r revoked, x expires, and acct,
                     a copy of its account's fields, so a hot-state miss is one GetItem
    CUS#<customer>   a: the account a Stripe customer belongs to
    EVT#<event id>   a processed Stripe event: et type, ec created, ttl (DynamoDB TTL, s)
    MTR#...          the meter room's outbox (tiergate.meter.outbox_dynamo)
    ALRT#..., ALERTS#...   the alert room's items (tiergate.alerts: its ledger, its contacts)

Attribute names are short because every key item carries its account's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..changes import StoredAccount
from ..records import Account, KeyRecord
from ..subscriptions import EventRecord

__all__ = [
    "Item",
    "account_fields",
    "account_from",
    "account_item",
    "account_key",
    "all_keys_of",
    "customer_item",
    "customer_key",
    "event_item",
    "event_key",
    "key_from",
    "key_item",
    "key_key",
    "live_keys_of",
    "stored_from",
    "version_of",
]

Item = dict[str, Any]  # DynamoDB's typed attribute values: {"name": {"S": "..."}}


def account_key(account_id: str) -> Item:
    return {"pk": {"S": f"ACCT#{account_id}"}}


def key_key(digest: str) -> Item:
    return {"pk": {"S": f"KEY#{digest}"}}


def customer_key(customer_id: str) -> Item:
    return {"pk": {"S": f"CUS#{customer_id}"}}


def event_key(event_id: str) -> Item:
    return {"pk": {"S": f"EVT#{event_id}"}}


def account_fields(account: Account) -> Item:
    """The account's own fields: stored on its item and copied onto each of its keys."""
    item: Item = {
        "id": {"S": account.account_id},
        "t": {"S": account.tier},
        "s": {"S": account.status},
        "ps": _n(account.period_start_ms),
        "pe": _n(account.period_end_ms),
        "sa": _n(account.past_due_since_ms),
        "wm": _n(account.watermark),
    }
    if account.limit_override is not None:
        item["lo"] = _n(account.limit_override)
    if account.burst_override is not None:
        item["bo"] = _n(account.burst_override)
    if account.extra_features:  # a string set cannot be empty
        item["xf"] = {"SS": sorted(account.extra_features)}
    if account.customer_id:
        item["cus"] = {"S": account.customer_id}
    if account.subscription_id:
        item["sub"] = {"S": account.subscription_id}
    if account.overage_cap_override is not None:
        item["oc"] = _n(account.overage_cap_override)
    return item


def account_item(
    account: Account, *, version: int, live_keys: Mapping[str, int], all_keys: frozenset[str]
) -> Item:
    item = {**account_key(account.account_id), **account_fields(account), "v": _n(version)}
    item["ks"] = {"M": {digest: _n(expires) for digest, expires in live_keys.items()}}
    if all_keys:
        item["ka"] = {"SS": sorted(all_keys)}
    return item


def account_from(item: Item) -> Account:
    return Account(
        account_id=item["id"]["S"],
        tier=item["t"]["S"],
        status=item["s"]["S"],
        period_start_ms=_int(item["ps"]),
        period_end_ms=_int(item["pe"]),
        past_due_since_ms=_int(item["sa"]),
        limit_override=_int(item["lo"]) if "lo" in item else None,
        burst_override=_int(item["bo"]) if "bo" in item else None,
        extra_features=frozenset(item["xf"]["SS"]) if "xf" in item else frozenset(),
        customer_id=item["cus"]["S"] if "cus" in item else "",
        subscription_id=item["sub"]["S"] if "sub" in item else "",
        watermark=_int(item["wm"]),
        overage_cap_override=_int(item["oc"]) if "oc" in item else None,
    )


def stored_from(item: Item) -> StoredAccount:
    """The account item as the registry's rules read it: with its version and key sets."""
    return StoredAccount(
        account_from(item), version_of(item), live_keys_of(item), all_keys_of(item)
    )


def live_keys_of(item: Item) -> dict[str, int]:
    return {digest: _int(value) for digest, value in item.get("ks", {}).get("M", {}).items()}


def all_keys_of(item: Item) -> frozenset[str]:
    return frozenset(item["ka"]["SS"]) if "ka" in item else frozenset()


def version_of(item: Item) -> int:
    return _int(item["v"])


def key_item(record: KeyRecord, account: Account) -> Item:
    return {
        **key_key(record.digest),
        "a": {"S": record.account_id},
        "c": _n(record.created_at_ms),
        "l": {"S": record.label},
        "r": _n(record.revoked_at_ms),
        "x": _n(record.expires_at_ms),
        "acct": {"M": account_fields(account)},
    }


def key_from(item: Item) -> tuple[KeyRecord, Account]:
    record = KeyRecord(
        digest=item["pk"]["S"].removeprefix("KEY#"),
        account_id=item["a"]["S"],
        created_at_ms=_int(item["c"]),
        label=item["l"]["S"],
        revoked_at_ms=_int(item["r"]),
        expires_at_ms=_int(item["x"]),
    )
    return record, account_from(item["acct"]["M"])


def customer_item(customer_id: str, account_id: str) -> Item:
    return {**customer_key(customer_id), "a": {"S": account_id}}


def event_item(event: EventRecord) -> Item:
    return {
        **event_key(event.event_id),
        "et": {"S": event.type},
        "ec": _n(event.created_s),
        "ttl": _n(event.expires_at_s),
    }


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _int(value: dict[str, str]) -> int:
    return int(value["N"])
