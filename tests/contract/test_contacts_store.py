"""The alert contacts contract: the in-process store and the DynamoDB one (on moto and on
DynamoDB Local) pass the same tests; the DynamoDB rows also read and migrate what earlier
versions wrote on the account and key items."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest

from tiergate.alerts.contacts_dynamo import DynamoContacts
from tiergate.alerts.contacts_store import NO_CONTACTS, AlertContacts
from tiergate.clock import FakeClock
from tiergate.registry import Account, KeyRecord
from tiergate.registry.dynamo import DynamoRegistry

from .contacts_stores import ALL_CONTACT_STORES, DYNAMO_CONTACT_STORES, Backend, Opened

HOOK = AlertContacts(url="https://hooks.acme.example/usage", secret="whsec_" + "A" * 44)


@pytest.fixture(params=ALL_CONTACT_STORES)
def opened(request: pytest.FixtureRequest) -> Iterator[Opened]:
    backend: Backend = request.param
    with backend(request) as opened:
        yield opened


@pytest.fixture(params=DYNAMO_CONTACT_STORES)
def table(request: pytest.FixtureRequest) -> Iterator[Opened]:
    backend: Backend = request.param
    with backend(request) as opened:
        yield opened


async def test_an_account_that_set_none_has_none(opened: Opened) -> None:
    assert await opened.store.get_many(["acme", "other"]) == {
        "acme": NO_CONTACTS,
        "other": NO_CONTACTS,
    }
    assert await opened.store.get_many([]) == {}
    assert not NO_CONTACTS


async def test_a_change_is_read_back_for_its_account_only(opened: Opened) -> None:
    store = opened.store
    assert await store.update("acme", lambda c: dataclasses.replace(c, email="o@acme.example"))
    await store.update("acme", lambda c: dataclasses.replace(c, url=HOOK.url, secret=HOOK.secret))
    both = AlertContacts("o@acme.example", HOOK.url, HOOK.secret)
    assert await store.get_many(["acme", "other"]) == {"acme": both, "other": NO_CONTACTS}
    assert await store.update("acme", lambda _: NO_CONTACTS) == NO_CONTACTS
    assert await store.get_many(["acme"]) == {"acme": NO_CONTACTS}


async def test_many_accounts_are_read_at_once(opened: Opened) -> None:
    ids = [f"acct{n}" for n in range(130)]  # past one BatchGetItem's 100
    for account_id in ids[::2]:
        await opened.store.update(account_id, lambda _: AlertContacts(email="o@x.example"))
    found = await opened.store.get_many(ids)
    assert [bool(found[a]) for a in ids] == [n % 2 == 0 for n in range(130)]


@pytest.mark.parametrize("backend", [p for p in ALL_CONTACT_STORES if p.id != "dynamo-moto"])
async def test_concurrent_changes_both_land(
    request: pytest.FixtureRequest, backend: Backend
) -> None:
    """The email and the URL set at once: neither change undoes the other (moto is left out:
    its backend is not safe under concurrent threads)."""
    with backend(request) as opened:
        store = opened.store
        await asyncio.gather(
            *(
                store.update("acme", lambda c: dataclasses.replace(c, email="o@acme.example")),
                store.update(
                    "acme", lambda c: dataclasses.replace(c, url=HOOK.url, secret=HOOK.secret)
                ),
                *(
                    store.update(f"n{n}", lambda c: dataclasses.replace(c, email="o@n.example"))
                    for n in range(4)
                ),
            )
        )
        assert (await store.get_many(["acme"]))["acme"] == AlertContacts(
            "o@acme.example", HOOK.url, HOOK.secret
        )


LEGACY_ACCOUNT = {
    "pk": {"S": "ACCT#acme"},
    "id": {"S": "acme"},
    "t": {"S": "pro"},
    "s": {"S": "active"},
    "ps": {"N": "0"},
    "pe": {"N": "0"},
    "sa": {"N": "0"},
    "wm": {"N": "0"},
    "v": {"N": "2"},
    "ks": {"M": {"d1": {"N": "0"}}},
    "ka": {"SS": ["d1"]},
    "ae": {"S": "o@acme.example"},
    "au": {"S": HOOK.url},
    "as": {"S": HOOK.secret},
}
LEGACY_KEY = {
    "pk": {"S": "KEY#d1"},
    "a": {"S": "acme"},
    "c": {"N": "1"},
    "l": {"S": ""},
    "r": {"N": "0"},
    "x": {"N": "0"},
    "acct": {"M": {k: v for k, v in LEGACY_ACCOUNT.items() if k not in {"pk", "v", "ks", "ka"}}},
}
LEGACY = AlertContacts("o@acme.example", HOOK.url, HOOK.secret)


def legacy_table(table: Opened) -> tuple[DynamoContacts, DynamoRegistry]:
    table.put_item(LEGACY_ACCOUNT)
    table.put_item(LEGACY_KEY)
    assert isinstance(table.store, DynamoContacts)
    return table.store, DynamoRegistry(table.client, table.table, clock=FakeClock(1_000))


async def test_contacts_an_earlier_version_kept_on_the_account_are_read_and_edited(
    table: Opened,
) -> None:
    store, registry = legacy_table(table)
    assert await store.get_many(["acme"]) == {"acme": LEGACY}
    # an edit starts from them: the URL and its secret stay as they were
    changed = await store.update("acme", lambda c: dataclasses.replace(c, email="new@acme.example"))
    assert changed == dataclasses.replace(LEGACY, email="new@acme.example")
    # cleared stays cleared: the legacy attributes never come back
    await store.update("acme", lambda _: NO_CONTACTS)
    assert await store.get_many(["acme"]) == {"acme": NO_CONTACTS}
    # the registry reads the account and its key without them
    assert await registry.get_account("acme") == Account("acme", "pro")


async def test_migrate_moves_them_off_the_account_and_key_items(table: Opened) -> None:
    store, registry = legacy_table(table)
    table.put_item(  # a second account that had already set its contacts the new way
        {**LEGACY_ACCOUNT, "pk": {"S": "ACCT#beta"}, "id": {"S": "beta"}, "ks": {"M": {}}}
    )
    await store.update("beta", lambda _: AlertContacts(email="b@beta.example"))

    done = await store.migrate_legacy()
    assert (done.copied, done.kept, done.cleaned) == (1, 1, 3)
    for pk in ("ACCT#acme", "ACCT#beta"):
        item = table.get_item(pk)
        assert not {"ae", "au", "as"} & item.keys()
        assert item["v"] == {"N": "2"}  # the registry's version is left alone
    assert HOOK.secret not in repr(table.get_item("KEY#d1"))
    assert await store.get_many(["acme", "beta"]) == {
        "acme": LEGACY,
        "beta": AlertContacts(email="b@beta.example"),  # never overwritten
    }
    assert (await store.migrate_legacy()) == dataclasses.replace(done, copied=0, kept=0, cleaned=0)
    record, account = await registry.hot_state("d1") or (None, None)
    assert record == KeyRecord("d1", "acme", 1)
    assert account == Account("acme", "pro")


def test_the_registry_writes_no_contacts(table: Opened) -> None:
    async def write() -> None:
        registry = DynamoRegistry(table.client, table.table, clock=FakeClock(1_000))
        await registry.put_account(Account("acme", "pro"))
        await registry.put_key(KeyRecord("d1", "acme", 1))
        await table.store.update("acme", lambda _: LEGACY)

    asyncio.run(write())
    for pk in ("ACCT#acme", "KEY#d1"):
        assert HOOK.secret not in repr(table.get_item(pk))
    assert table.get_item("ALERTS#acme")["as"] == {"S": HOOK.secret}
